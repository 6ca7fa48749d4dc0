"""Sources and sinks: CSV, Parquet and the built-in synthetic data."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import Field

from ..registry import Editor, NodeSpec, Param, Shape
from ..schema import DTYPES, Schema, SchemaContext
from ..steps import BuildContext, Read, Step, Write

Dtype = Literal["int64", "float64", "string", "bool", "datetime", "category"]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]

# The columns of the built-in "orders" demo data (FORMAT.md `source.generate`).
ORDERS_COLUMNS: dict[str, str] = {
    "order_id": "int64",
    "ts": "datetime",
    "customer": "string",
    "region": "string",
    "quantity": "float64",
    "price": "float64",
    "comment": "string",
}
GENERATED: dict[str, Schema] = {"orders": Schema.of(ORDERS_COLUMNS)}

_SOURCE_COLUMNS = Param(
    "columns",
    list[str],
    "Read only these columns, in this order.",
    editor=Editor.COLUMNS,
)


def csv_header(path: Any, delimiter: str) -> list[str] | None:
    """Column names as pandas names them (duplicates become `a.1`); None for an empty file."""
    with open(path, encoding="utf-8", newline="") as f:
        row = next(csv.reader(f, delimiter=delimiter), None)
    if row is None:
        return None
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(row):
        name = raw if raw != "" else f"Unnamed: {i}"
        base, n = name, seen.get(name, 0)
        while name in seen:
            n += 1
            name = f"{base}.{n}"
        seen[base] = n
        seen.setdefault(name, 0)
        names.append(name)
    return names


def _csv_schema(ctx: SchemaContext) -> Schema | None:
    p = ctx.params
    path = ctx.path(p["path"])
    try:
        names = csv_header(path, p["delimiter"])
    except FileNotFoundError:
        ctx.warning("path", f"file not found (yet): {path}")
        return _declared_only(p)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        ctx.error("path", f"cannot read the header of {path}: {exc}")
        return None
    if names is None:
        ctx.error("path", f"the file is empty, it has no header row: {path}")
        return None
    schema = Schema.of((n, None) for n in names)
    for param in ("columns", "parse_dates"):
        ctx.check_columns_of(param, p[param] or [], schema)
    ctx.check_columns_of("dtypes", (p["dtypes"] or {}).keys(), schema)
    if p["columns"]:
        schema = schema.select(c for c in p["columns"] if c in schema)
    return _typed(schema, p)


def _declared_only(p: dict[str, Any]) -> Schema | None:
    """Without the file, the schema is known only when `columns` lists it."""
    return _typed(Schema.of((c, None) for c in p["columns"]), p) if p["columns"] else None


def _typed(schema: Schema, p: dict[str, Any]) -> Schema:
    for column in p["parse_dates"] or []:
        if column in schema:
            schema = schema.with_column(column, "datetime")
    for column, dtype in (p["dtypes"] or {}).items():
        if column in schema:
            schema = schema.with_column(column, dtype)
    return schema


def arrow_dtype(arrow_type: Any) -> str | None:
    """Our dtype name for a pyarrow type, None where there is no exact match."""
    import pyarrow.types as t

    checks: Iterable[tuple[Any, str]] = (
        (t.is_boolean, "bool"),
        (t.is_integer, "int64"),
        (t.is_floating, "float64"),
        (lambda x: t.is_string(x) or t.is_large_string(x) or t.is_string_view(x), "string"),
        (lambda x: t.is_timestamp(x) or t.is_date(x), "datetime"),
        (t.is_dictionary, "category"),
    )
    return next((name for check, name in checks if check(arrow_type)), None)


def _parquet_schema(ctx: SchemaContext) -> Schema | None:
    import pyarrow.dataset as ds

    p = ctx.params
    path = ctx.path(p["path"])
    if not path.exists():
        ctx.warning("path", f"file or directory not found (yet): {path}")
        return _declared_only({**p, "parse_dates": None, "dtypes": None})
    try:
        arrow_schema = ds.dataset(path, format="parquet").schema
    except Exception as exc:  # pyarrow raises several types for unreadable files
        ctx.error("path", f"cannot read Parquet metadata of {path}: {exc}")
        return None
    schema = Schema.of((f.name, arrow_dtype(f.type)) for f in arrow_schema)
    if p["columns"]:
        ctx.check_columns_of("columns", p["columns"], schema)
        schema = schema.select(c for c in p["columns"] if c in schema)
    return schema


def _generate_schema(ctx: SchemaContext) -> Schema | None:
    return GENERATED[ctx.params["dataset"]]


def _sink_schema(ctx: SchemaContext) -> None:
    return None


GENERATE_CHUNK_ROWS = 100_000


def _build_generate(p: dict[str, Any], ctx: BuildContext) -> list[Step]:
    from . import kernels

    spans = partial(kernels.row_spans, p["rows"], GENERATE_CHUNK_ROWS)
    load = partial(kernels.generated, p["rows"], p["seed"], p["dataset"])
    return [Read(spans, estimated_rows=p["rows"], load=load)]


def _build_csv(p: dict[str, Any], ctx: BuildContext) -> list[Step]:
    """Two passes over byte-range blocks, each in parallel tasks: scan (whole-file types), then read;
    or one speculative pass where the executor can run the read stage again (csvread.read_speculative)."""
    from . import csvread, kernels

    options = {k: p[k] for k in ("delimiter", "columns", "dtypes", "parse_dates", "na_values", "chunk_rows")}
    return [
        Read(
            partial(kernels.csv_blocks_for, ctx.path(p["path"]), options),
            load=csvread.read_block,
            scan=csvread.scan_block,
            combine_scans=csvread.plan_from_scans,
            speculate=csvread.read_speculative,
            name="read",
        )
    ]


def _build_parquet(p: dict[str, Any], ctx: BuildContext) -> list[Step]:
    from . import kernels

    return [Read(partial(kernels.parquet_partitions, ctx.path(p["path"]), p["columns"]))]


def _sink_builder(writer: str) -> Any:
    def build(p: dict[str, Any], ctx: BuildContext) -> list[Step]:
        from . import kernels

        return [Write(ctx.path(p["path"]), getattr(kernels, writer), overwrite=p["overwrite"])]

    return build


_SINK_PARAMS = (
    Param(
        "path",
        str,
        "The file to write (atomically, when the whole run has succeeded).",
        required=True,
        editor=Editor.SAVE_PATH,
    ),
    Param(
        "overwrite",
        bool,
        "Replace an existing file; when false, a run whose output exists fails before writing.",
        default=True,
        editor=Editor.BOOL,
    ),
)

SPECS = (
    NodeSpec(
        type="source.csv",
        family="sources",
        title="CSV file",
        doc="Reads a CSV file lazily in chunks; column types are what pandas infers over the whole file.",
        shape=Shape.SOURCE,
        inputs=(),
        schema=_csv_schema,
        build=_build_csv,
        params=(
            Param("path", str, "The CSV file to read.", required=True, editor=Editor.PATH),
            Param(
                "delimiter",
                Annotated[str, Field(min_length=1, max_length=1)],
                "The field separator: one character.",
                default=",",
            ),
            _SOURCE_COLUMNS,
            Param(
                "dtypes",
                dict[str, Dtype],
                f"Column types to use instead of inferring them ({', '.join(DTYPES)}).",
                editor=Editor.COLUMN_DTYPES,
            ),
            Param("parse_dates", list[str], "Columns to read as dates and times.", editor=Editor.COLUMNS),
            Param(
                "na_values",
                list[str],
                "Extra text values that mean missing, besides pandas' defaults.",
                editor=Editor.TEXT_LIST,
            ),
            Param(
                "chunk_rows",
                PositiveInt,
                "Rows per chunk; chosen by the engine from the data when not given.",
                editor=Editor.INT,
            ),
        ),
    ),
    NodeSpec(
        type="source.parquet",
        family="sources",
        title="Parquet file",
        doc="Reads a Parquet file, or a directory of them, by row group.",
        shape=Shape.SOURCE,
        inputs=(),
        schema=_parquet_schema,
        build=_build_parquet,
        params=(
            Param("path", str, "The Parquet file or directory to read.", required=True, editor=Editor.PATH),
            _SOURCE_COLUMNS,
        ),
    ),
    NodeSpec(
        type="source.generate",
        family="sources",
        title="Generate demo data",
        doc=(
            "Deterministic synthetic data: the same rows and seed give the same table whatever the "
            "chunking. 'orders' has order_id, ts, customer, region, quantity, price and comment, with "
            "missing values, duplicate rows and messy text."
        ),
        shape=Shape.SOURCE,
        inputs=(),
        schema=_generate_schema,
        build=_build_generate,
        params=(
            Param("rows", NonNegativeInt, "How many rows to generate.", required=True, editor=Editor.INT),
            Param(
                "seed",
                NonNegativeInt,
                "Random seed: the same seed gives the same data.",
                default=0,
                editor=Editor.INT,
            ),
            Param(
                "dataset",
                str,
                "Which synthetic table to make.",
                default="orders",
                choices=tuple(GENERATED),
                editor=Editor.CHOICE,
            ),
        ),
    ),
    NodeSpec(
        type="sink.csv",
        family="sinks",
        title="CSV file",
        doc="Writes one UTF-8 CSV file with a header row, no index and ',' separators, atomically.",
        shape=Shape.SINK,
        outputs=(),
        schema=_sink_schema,
        build=_sink_builder("write_csv"),
        params=_SINK_PARAMS,
    ),
    NodeSpec(
        type="sink.parquet",
        family="sinks",
        title="Parquet file",
        doc="Writes one Parquet file with the table's types, atomically.",
        shape=Shape.SINK,
        outputs=(),
        schema=_sink_schema,
        build=_sink_builder("write_parquet"),
        params=_SINK_PARAMS,
    ),
)
