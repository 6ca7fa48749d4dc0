"""Combining two tables: concat (append right's rows) and joins on key columns."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from ..registry import Editor, NodeSpec, Param, Port, Shape
from ..schema import Schema, SchemaContext
from ..steps import BuildContext, Join, Step

JOINS = ("inner", "left", "right", "outer")


def _nullable(dtype: str | None) -> str | None:
    """The type pandas gives a column that gains missing values (int -> float, bool -> object)."""
    return {"int64": "float64", "bool": None}.get(dtype, dtype) if dtype is not None else None


def _common(a: str | None, b: str | None) -> str | None:
    if a == b:
        return a
    return "float64" if {a, b} == {"int64", "float64"} else None


def _merge_schema(ctx: SchemaContext) -> Schema | None:
    p = ctx.params
    how, on = p["how"], p["on"] or []
    has_right = "right" in ctx.inputs
    left, right = ctx.input("left"), ctx.input("right")
    if how == "concat":
        if on:
            ctx.error("on", "is only used by joins; how is 'concat'")
        if not has_right:
            return left
        if left is None or right is None:
            return None
        return _concat(left, right)
    if not on:
        ctx.error("on", f"a '{how}' join needs key columns")
    if not has_right:
        ctx.error("how", f"a '{how}' join needs the 'right' input connected")
        return None
    ok_left = ctx.check_columns("on", on, "left")
    ok_right = ctx.check_columns("on", on, "right")
    if left is None or right is None or not (ok_left and ok_right) or not on:
        return None
    return _join(left, right, on, how)


def _concat(left: Schema, right: Schema) -> Schema:
    out = [(n, _common(t, right.dtype(n)) if n in right else _nullable(t)) for n, t in left]
    out += [(n, _nullable(t)) for n, t in right if n not in left]
    return Schema(tuple(out))


def _join(left: Schema, right: Schema, on: list[str], how: str) -> Schema:
    keys = set(on)
    left_cols = [(n, t if how in ("inner", "left") or n in keys else _nullable(t)) for n, t in left]
    taken = {n for n, _ in left_cols}
    right_cols = []
    for name, dtype in right:
        if name in keys:
            continue
        out_name = f"{name}_right" if name in taken else name
        right_cols.append((out_name, dtype if how in ("inner", "right") else _nullable(dtype)))
    return Schema((*left_cols, *right_cols))


def _build_merge(p: dict[str, Any], ctx: BuildContext) -> list[Step]:
    from . import kernels

    return [Join(partial(kernels.merge_tables, how=p["how"], on=p["on"], partitions=1), p["how"])]


MERGE = NodeSpec(
    type="merge",
    family="merge",
    title="Merge",
    doc=(
        "'concat' appends right's rows after left's; 'inner', 'left', 'right' and 'outer' join on "
        "the `on` columns like pandas' merge. Right columns whose name is taken get '_right'."
    ),
    shape=Shape.GLOBAL,
    schema=_merge_schema,
    build=_build_merge,
    inputs=(Port("left", "The first table."), Port("right", "The second table (optional).", required=False)),
    params=(
        Param(
            "how",
            Literal["concat", "inner", "left", "right", "outer"],
            "How to combine the tables.",
            default="concat",
            choices=("concat", *JOINS),
            editor=Editor.CHOICE,
        ),
        Param(
            "on",
            list[str],
            "Key columns of a join, present on both sides.",
            editor=Editor.COLUMNS,
            columns_from="left",
        ),
    ),
)

SPECS = (MERGE,)
