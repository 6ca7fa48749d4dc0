"""Plain pandas references the node tests compare against; they never import engine code."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

AggValues = list[tuple[str, str, str | None]]  # (output name, function, column or None for count())


def whole_column(s: pd.Series, fn: str) -> pd.Series:
    """A whole-column reduction as a one-row column (min/max/first/last keep the column's type;
    int/bool widen to float when there is no value)."""
    if fn in ("first", "last"):
        present = s.dropna()
        value = present.iloc[-1 if fn == "last" else 0] if len(present) else np.nan
    else:
        value = getattr(s, fn)()
    if fn in ("count", "nunique"):
        dtype: Any = "int64"
    elif fn == "sum":
        dtype = "int64" if s.dtype.kind in "iub" else "float64"
    elif fn in ("mean", "std", "var", "median"):
        dtype = "float64"
    else:
        dtype = "float64" if s.dtype.kind in "iub" and s.dropna().empty else s.dtype
    return pd.Series([value], dtype=dtype)


def aggregate(frame: pd.DataFrame, by: list[str], values: AggValues) -> pd.DataFrame:
    """groupby(sort=True, dropna=False).agg; no `by`: one row of whole-column reductions."""
    if by:
        named = {n: (c or by[0], "size" if c is None else fn) for n, fn, c in values}
        return frame.groupby(by, sort=True, dropna=False).agg(**named).reset_index()
    out = {
        n: pd.Series([len(frame)], dtype="int64") if c is None else whole_column(frame[c], fn)
        for n, fn, c in values
    }
    return pd.DataFrame(out, index=pd.RangeIndex(1))


EARTH_RADIUS_KM = 6371.0088  # the IUGG mean radius, as graphmill-geo documents


def haversine_km(frame: pd.DataFrame, lat1: str, lon1: str, lat2: str, lon2: str) -> pd.Series:
    """Great-circle distance per row with the `math` module: an independent check of the
    vectorised `geo.distance` (missing coordinates give a missing distance)."""
    import math

    def one(a: float, b: float, c: float, d: float) -> float:
        if any(math.isnan(v) for v in (a, b, c, d)):
            return math.nan
        p1, p2 = math.radians(a), math.radians(c)
        h = (
            math.sin((p2 - p1) / 2) ** 2
            + math.cos(p1) * math.cos(p2) * math.sin(math.radians(d - b) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(h, 1.0)))

    cols = [frame[c].astype("float64") for c in (lat1, lon1, lat2, lon2)]
    values = [one(*row) for row in zip(*cols, strict=True)]
    return pd.Series(values, index=frame.index, dtype="float64")
