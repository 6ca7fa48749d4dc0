"""`geo.distance`: great-circle distance between two latitude/longitude column pairs.

Row-local and vectorised: one NumPy expression per partition, no Python per row, so the planner
fuses it into the stage of its neighbours and `auto` runs it in threads (NumPy releases the GIL).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd

from engine import Editor, NodeSpec, Param, Port, Schema, SchemaContext, Shape
from engine.steps import BuildContext, Map, Step

EARTH_RADIUS_KM = 6371.0088  # the IUGG mean Earth radius
UNITS = {"km": 1.0, "m": 1000.0, "mi": 1 / 1.609344}  # per kilometre
NUMERIC = ("int64", "float64")
COLUMN_PARAMS = ("from_lat", "from_lon", "to_lat", "to_lon")


def haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (NaN where any is missing)."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlam = np.radians(lon2 - lon1) / 2
    a = np.sin(half_dphi) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlam) ** 2
    # rounding can push `a` a hair above 1 for antipodal points; arcsin would give NaN
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def add_distance(
    frame: pd.DataFrame, columns: tuple[str, str, str, str], output: str, unit: str
) -> pd.DataFrame:
    """One partition: the input with the distance column added (or replaced in place)."""
    lat1, lon1, lat2, lon2 = (frame[c].to_numpy(dtype="float64", na_value=np.nan) for c in columns)
    out = frame.copy(deep=False)
    out[output] = haversine(lat1, lon1, lat2, lon2) * UNITS[unit]
    return out


def _schema(ctx: SchemaContext) -> Schema | None:
    """The input plus a float64 column; unknown or non-numeric coordinate columns are errors."""
    schema = ctx.input()
    if schema is None:
        return None
    ok = True
    for name in COLUMN_PARAMS:
        column = ctx.params[name]
        if not ctx.check_columns(name, [column]):
            ok = False
        elif schema.dtype(column) not in (*NUMERIC, None):
            ctx.error(name, f"'{column}' is {schema.dtype(column)}: degrees must be numbers")
            ok = False
    return schema.with_column(ctx.params["output"], "float64") if ok else None


def _build(params: dict[str, Any], ctx: BuildContext) -> list[Step]:
    columns = tuple(params[name] for name in COLUMN_PARAMS)
    fn = partial(add_distance, columns=columns, output=params["output"], unit=params["unit"])
    return [Map(fn, "haversine")]


def _from_v1(params: dict[str, Any]) -> dict[str, Any]:
    """Params version 1 (graphmill-geo 1.x) named the columns lat1..lon2 and the output `column`."""
    renames = {"lat1": "from_lat", "lon1": "from_lon", "lat2": "to_lat", "lon2": "to_lon", "column": "output"}
    return {renames.get(k, k): v for k, v in params.items()}


def _column(name: str, doc: str) -> Param:
    return Param(name, str, doc, required=True, editor=Editor.COLUMN, columns_from="in")


DISTANCE = NodeSpec(
    type="geo.distance",
    family="geo",
    title="Distance",
    doc="Great-circle (haversine) distance between two latitude/longitude column pairs, in degrees.",
    shape=Shape.ROW_LOCAL,
    schema=_schema,
    build=_build,
    inputs=(Port("in", "Rows with two points each."),),
    outputs=(Port("out", "The input plus the distance column."),),
    params=(
        _column("from_lat", "Latitude of the first point, in degrees."),
        _column("from_lon", "Longitude of the first point, in degrees."),
        _column("to_lat", "Latitude of the second point, in degrees."),
        _column("to_lon", "Longitude of the second point, in degrees."),
        Param("output", str, "Name of the new column (an existing one is replaced).", default="distance"),
        Param(
            "unit",
            Literal["km", "m", "mi"],
            "Unit of the distance.",
            default="km",
            choices=tuple(UNITS),
            editor=Editor.CHOICE,
        ),
    ),
    version=2,
    migrations={1: _from_v1},
    legacy_types=("geo.haversine",),
)
