"""Row-wise and whole-table transforms: clean, partition, compute."""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Literal, NotRequired, Required  # pydantic needs it on 3.11

from pydantic import ConfigDict
from typing_extensions import TypedDict

from ..expr import ExprError, parse
from ..registry import Editor, NodeSpec, Param, Shape
from ..schema import Schema, SchemaContext
from ..steps import BuildContext, Exchange, Map, Reduce, Step
from .io import Dtype, PositiveInt

NUMERIC = {"int64", "float64"}
TEXTUAL = {"string", "category"}


class TextRule(TypedDict, total=False):
    """One text clean-up on a string column, applied as lower, strip, then remove."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    column: Required[str]
    lower: bool
    strip: bool
    remove: str


class Aggregate(TypedDict):
    """Group by columns and compute one value per group and name."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    by: NotRequired[list[str]]
    values: dict[str, str]


# ---------------------------------------------------------------------------------------- clean


def _clean_schema(ctx: SchemaContext) -> Schema | None:
    p, schema = ctx.params, ctx.input()
    if schema is None:
        _check_text_rules(ctx, None)
        return None
    rename = p["rename"] or {}
    if ctx.check_columns_of("rename", rename, schema):
        renamed = schema.rename(rename)
        if len(set(renamed.names)) < len(renamed):
            dup = next(n for n in renamed.names if renamed.names.count(n) > 1)
            ctx.error("rename", f"renaming gives two columns named '{dup}'")
        schema = renamed
    if p["keep"] is not None and ctx.check_columns_of("keep", p["keep"], schema):
        schema = schema.select(p["keep"])
    if p["drop"] is not None and ctx.check_columns_of("drop", p["drop"], schema):
        schema = schema.drop(p["drop"])
    for column, dtype in (p["cast"] or {}).items():
        if ctx.check_columns_of("cast", [column], schema):
            schema = schema.with_column(column, dtype)
    _check_text_rules(ctx, schema)
    for column, value in (p["fill"] or {}).items():
        if ctx.check_columns_of("fill", [column], schema):
            _check_fill(ctx, column, value, schema.dtype(column))
    if isinstance(p["drop_missing"], list):
        ctx.check_columns_of("drop_missing", p["drop_missing"], schema)
    if isinstance(p["drop_duplicates"], list):
        ctx.check_columns_of("drop_duplicates", p["drop_duplicates"], schema)
    return schema


def _check_text_rules(ctx: SchemaContext, schema: Schema | None) -> None:
    for i, rule in enumerate(ctx.params["text"] or []):
        param = f"text.{i}"
        if "remove" in rule:
            try:
                re.compile(rule["remove"])
            except re.error as exc:
                ctx.error(f"{param}.remove", f"invalid regular expression {rule['remove']!r}: {exc}")
        if schema is None or not ctx.check_columns_of(f"{param}.column", [rule["column"]], schema):
            continue
        dtype = schema.dtype(rule["column"])
        if dtype is not None and dtype not in TEXTUAL:
            ctx.error(
                f"{param}.column", f"column '{rule['column']}' is {dtype}, text rules need a string column"
            )


def _check_fill(ctx: SchemaContext, column: str, value: Any, dtype: str | None) -> None:
    fits = {
        "int64": isinstance(value, int) and not isinstance(value, bool),
        "float64": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "string": isinstance(value, str),
        "category": isinstance(value, str),
        "datetime": isinstance(value, str),
    }
    if dtype is not None and not fits[dtype]:
        ctx.error(f"fill.{column}", f"{value!r} does not fit column '{column}' of type {dtype}")


def _build_clean(p: dict[str, Any], ctx: BuildContext) -> list[Step]:
    """Row-local steps in FORMAT.md's order; category casts and dedupe need the whole table."""
    from . import kernels

    steps: list[Step] = [
        Map(partial(kernels.clean_before_cast, rename=p["rename"], keep=p["keep"], drop=p["drop"]), "select")
    ]
    casts = p["cast"] or {}
    if casts:
        steps.append(Map(partial(kernels.cast, casts=casts), "cast"))
    categories = [c for c, t in casts.items() if t == "category"]
    if categories:
        steps.append(
            Reduce(
                partial(kernels.categories_partial, columns=categories),
                kernels.categories_combine,
                kernels.categories_finish,
                "categories",
            )
        )
    if p["text"] or p["fill"] or p["drop_missing"]:
        steps.append(
            Map(
                partial(
                    kernels.clean_after_cast, text=p["text"], fill=p["fill"], drop_missing=p["drop_missing"]
                ),
                "tidy",
            )
        )
    if p["drop_duplicates"]:
        # Exact and cheap: hash every row in parallel, then compare only rows whose hash repeats.
        subset = p["drop_duplicates"] if isinstance(p["drop_duplicates"], list) else None
        steps.append(
            Reduce(
                partial(kernels.row_hashes, subset=subset),
                kernels.hash_candidates,
                name="dedupe hashes",
                keep=True,
            )
        )
        steps.append(
            Reduce(
                partial(kernels.candidate_rows, subset=subset),
                kernels.duplicate_positions,
                kernels.drop_positions,
                "drop_duplicates",
                takes_previous=True,
                filters_rows=True,
            )
        )
    return steps


CLEAN = NodeSpec(
    type="clean",
    family="clean",
    title="Clean",
    doc=(
        "Tidies a table in this order: rename, keep, drop, cast, text, fill, drop_missing, "
        "drop_duplicates. Duplicates are found across all partitions and the first is kept."
    ),
    shape=Shape.GLOBAL,
    shape_for=lambda p: Shape.GLOBAL if p["drop_duplicates"] else Shape.ROW_LOCAL,
    schema=_clean_schema,
    build=_build_clean,
    params=(
        Param(
            "rename", dict[str, str], "Rename columns: {old: new}.", editor=Editor.MAPPING, columns_from="in"
        ),
        Param(
            "keep",
            list[str],
            "Keep only these columns, in this order.",
            editor=Editor.COLUMNS,
            columns_from="in",
        ),
        Param("drop", list[str], "Remove these columns.", editor=Editor.COLUMNS, columns_from="in"),
        Param(
            "cast",
            dict[str, Dtype],
            "Convert columns to a type: {column: dtype}.",
            editor=Editor.COLUMN_DTYPES,
            columns_from="in",
        ),
        Param(
            "text",
            list[TextRule],
            "Text clean-ups: [{column, lower, strip, remove (regex)}].",
            editor=Editor.TEXT_RULES,
            columns_from="in",
        ),
        Param(
            "fill",
            dict[str, str | int | float | bool],
            "Replace missing values: {column: value}.",
            editor=Editor.COLUMN_VALUES,
            columns_from="in",
        ),
        Param(
            "drop_missing",
            Literal["any"] | list[str],
            "Drop rows with a missing value: 'any' column, or in any of these columns.",
            editor=Editor.COLUMNS,
            columns_from="in",
            expects="'any' or a list of column names",
        ),
        Param(
            "drop_duplicates",
            bool | list[str],
            "Drop repeated rows, keeping the first: true compares whole rows, a list compares those key columns.",
            default=False,
            editor=Editor.COLUMNS,
            columns_from="in",
            expects="true, false or a list of column names",
        ),
    ),
)


# ------------------------------------------------------------------------------------ partition


def _partition_schema(ctx: SchemaContext) -> Schema | None:
    p = ctx.params
    if p["by"] == "hash":
        if not p["key"]:
            ctx.error("key", "is required when by is 'hash'")
        else:
            ctx.check_columns("key", p["key"])
    elif p["key"]:
        ctx.warning("key", "is ignored when by is 'rows'")
    return ctx.input()


def _build_partition(p: dict[str, Any], ctx: BuildContext) -> list[Step]:
    from . import kernels

    if p["by"] == "hash":
        return [Exchange(partial(kernels.repartition_hash, n=p["partitions"], key=p["key"]), "hash split")]
    return [Exchange(partial(kernels.repartition_rows, n=p["partitions"]), "row split")]


PARTITION = NodeSpec(
    type="partition",
    family="partition",
    title="Partition",
    doc="Splits the table into partitions to spread the work; results never depend on it.",
    shape=Shape.EXCHANGE,
    schema=_partition_schema,
    build=_build_partition,
    params=(
        Param(
            "by",
            Literal["rows", "hash"],
            "'rows': consecutive rows; 'hash': equal keys in one partition.",
            default="rows",
            choices=("rows", "hash"),
            editor=Editor.CHOICE,
        ),
        Param(
            "partitions",
            PositiveInt,
            "How many partitions; chosen from the data size when not given.",
            editor=Editor.INT,
        ),
        Param(
            "key", list[str], "Columns to hash when by is 'hash'.", editor=Editor.COLUMNS, columns_from="in"
        ),
    ),
)


# -------------------------------------------------------------------------------------- compute

AGGREGATES = ("count", "sum", "mean", "min", "max", "std", "var", "nunique", "median", "first", "last")
_AGG_RE = re.compile(
    r"""^\s*([A-Za-z_]\w*)\s*\(\s*(?:([A-Za-z_]\w*)|col\(\s*(?:"([^"]*)"|'([^']*)')\s*\))?\s*\)\s*$"""
)


def parse_aggregate(text: str) -> tuple[str, str | None]:
    """`"sum(revenue)"` -> ("sum", "revenue"); `"count()"` -> ("count", None). ValueError if bad."""
    m = _AGG_RE.match(text)
    if not m:
        raise ValueError(f"'{text}' is not of the form fn(column) or count()")
    fn = m.group(1)
    column = next((g for g in m.groups()[1:] if g is not None), None)
    if fn not in AGGREGATES:
        raise ValueError(f"unknown aggregate function '{fn}' (functions: {', '.join(AGGREGATES)})")
    if column is None and fn != "count":
        raise ValueError(f"{fn}() needs a column: {fn}(column)")
    return fn, column


def aggregate_dtype(fn: str, dtype: str | None) -> str | None:
    if fn in ("count", "nunique"):
        return "int64"
    if fn in ("mean", "std", "var", "median"):
        return "float64"
    if fn == "sum":
        return "int64" if dtype in ("int64", "bool") else dtype
    return dtype


def _compute_schema(ctx: SchemaContext) -> Schema | None:
    p = ctx.params
    schema = ctx.input()
    types = schema.as_dict() if schema is not None else None
    if p["filter"] is not None:
        dtype = _expression_type(ctx, "filter", p["filter"], types)
        if dtype is not None and dtype != "bool":
            ctx.error("filter", f"must give true or false per row, but `{p['filter']}` gives {dtype}")
    for name, text in (p["columns"] or {}).items():
        dtype = _expression_type(ctx, f"columns.{name}", text, types)
        if types is not None:
            types[name] = dtype
    schema = Schema.of(types) if types is not None else None
    if p["aggregate"] is not None:
        schema = _aggregate_schema(ctx, p["aggregate"], schema)
    for key in p["sort"] or []:
        column = key[1:] if key.startswith("-") else key
        if schema is not None:
            ctx.check_columns_of("sort", [column], schema)
    return schema


def _expression_type(
    ctx: SchemaContext, param: str, text: str, types: dict[str, str | None] | None
) -> str | None:
    try:
        return parse(text).infer_type(types)
    except ExprError as exc:
        ctx.error(param, str(exc))
        return None


def _aggregate_schema(ctx: SchemaContext, agg: dict[str, Any], schema: Schema | None) -> Schema | None:
    by = agg.get("by") or []
    ok = schema is not None and ctx.check_columns_of("aggregate.by", by, schema)
    out: dict[str, str | None] = {c: (schema.dtype(c) if schema is not None else None) for c in by}
    for name, text in agg["values"].items():
        param = f"aggregate.values.{name}"
        if name in by:
            ctx.error(param, f"'{name}' is already a 'by' column")
        try:
            fn, column = parse_aggregate(text)
        except ValueError as exc:
            ctx.error(param, str(exc))
            ok = False
            continue
        dtype = None
        if column is not None and schema is not None:
            if not ctx.check_columns_of(param, [column], schema):
                ok = False
                continue
            dtype = schema.dtype(column)
            wants_number = fn in ("sum", "mean", "std", "var", "median")
            if wants_number and dtype is not None and dtype not in NUMERIC | {"bool"}:
                ctx.error(param, f"{fn}() needs a numeric column, but '{column}' is {dtype}")
        out[name] = aggregate_dtype(fn, dtype)
    return Schema.of(out) if ok else None


def _compute_reads(params: dict[str, Any]) -> list[str] | None:
    """Only an aggregating compute can drop columns; then it reads just what it uses."""
    agg = params.get("aggregate")
    if not agg:
        return None
    used: list[str] = []
    defined: set[str] = set()

    def use(names: Any) -> None:
        used.extend(n for n in names if n not in defined and n not in used)

    try:
        if params.get("filter"):
            use(parse(params["filter"]).columns)
        for name, text in (params.get("columns") or {}).items():
            use(parse(text).columns)
            defined.add(name)
        use(agg.get("by") or [])
        use(c for c in (parse_aggregate(v)[1] for v in agg["values"].values()) if c is not None)
    except (ExprError, ValueError):
        return None
    return used


def _build_compute(p: dict[str, Any], ctx: BuildContext) -> list[Step]:
    from . import kernels

    steps: list[Step] = []
    if p["filter"] or p["columns"]:
        steps.append(
            Map(
                partial(
                    kernels.compute_rows, filter_text=p["filter"], columns=p["columns"], device=ctx.device
                ),
                "filter+columns",
            )
        )
    if p["aggregate"]:
        from . import aggregate as agg

        values = tuple((name, *parse_aggregate(text)) for name, text in p["aggregate"]["values"].items())
        spec = agg.AggSpec(by=tuple(p["aggregate"].get("by") or ()), values=values)
        steps.append(
            Reduce(
                partial(agg.partial, spec=spec, device=ctx.device),
                partial(agg.combine, spec=spec),
                name="aggregate",
            )
        )
    if p["sort"]:
        steps.append(
            Reduce(
                kernels.sort_partial, partial(kernels.sort_combine, keys=p["sort"], partitions=1), name="sort"
            )
        )
    return steps


COMPUTE = NodeSpec(
    type="compute",
    family="compute",
    title="Compute",
    doc=(
        "Filters rows, derives columns from expressions, aggregates by groups and sorts, in that "
        "order. Aggregates are exact whatever the partitioning."
    ),
    shape=Shape.GLOBAL,
    shape_for=lambda p: Shape.GLOBAL if p["aggregate"] or p["sort"] else Shape.ROW_LOCAL,
    schema=_compute_schema,
    build=_build_compute,
    reads=_compute_reads,
    params=(
        Param(
            "filter",
            str,
            "Keep rows where this expression is true, e.g. `quantity > 0`.",
            editor=Editor.EXPRESSION,
            columns_from="in",
        ),
        Param(
            "columns",
            dict[str, str],
            "New or replaced columns: {name: expression}, evaluated in order.",
            editor=Editor.EXPRESSIONS,
            columns_from="in",
        ),
        Param(
            "aggregate",
            Aggregate,
            "Group by `by` and compute `values`: {name: 'fn(column)'} or 'count()'.",
            editor=Editor.AGGREGATE,
            columns_from="in",
        ),
        Param(
            "sort",
            list[str],
            "Sort by these columns; '-col' sorts descending; missing values last.",
            editor=Editor.SORT_KEYS,
            columns_from="in",
        ),
    ),
)

SPECS = (CLEAN, PARTITION, COMPUTE)
