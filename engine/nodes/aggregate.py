"""Exact two-phase group-by: a small partial per partition, then one combine in partition order.

The result equals `frame.groupby(by, sort=True, dropna=False).agg(...)` on the whole table
whatever the partitioning (floats within a relative 1e-9), and is byte-identical for a fixed
partitioning, because partials are always merged in the order given.

A partial holds one row per group of its partition with the decomposable statistics (size,
non-missing count, sum, min, max, first, last, M2 for var/std), keyed by the partition's own
group codes. median and nunique are not decomposable: their partial keeps the (group code, value)
rows (for nunique only the distinct pairs), and combine computes them on the concatenation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..device import ArrayDevice

AGGREGATES = ("count", "sum", "mean", "min", "max", "std", "var", "nunique", "median", "first", "last")
_NUMERIC_ONLY = frozenset({"sum", "mean", "std", "var", "median"})
# statistics a partial keeps per group, by function: (kind, uses the column)
_NEEDS: dict[str, tuple[str, ...]] = {
    "count": ("count",),
    "sum": ("sum",),
    "mean": ("count", "sum"),
    "min": ("min",),
    "max": ("max",),
    "first": ("first",),
    "last": ("last",),
    "var": ("count", "sum", "m2"),
    "std": ("count", "sum", "m2"),
}
_ADDITIVE = frozenset({"size", "count", "sum", "m2"})
_ROW_KINDS = ("median", "nunique")

__all__ = ["AGGREGATES", "AggPartial", "AggSpec", "aggregate", "combine", "partial"]


@dataclass(frozen=True)
class AggSpec:
    by: tuple[str, ...]  # group-by columns (may be empty: one output row)
    values: tuple[tuple[str, str, str | None], ...]  # (output name, fn, input column or None for count())


@dataclass(frozen=True)
class AggPartial:
    """Picklable state of one partition: `stats` (keys k0.., statistics s0..; one row per group)
    and, per median/nunique statistic, a frame of (g = row of `stats`, v = value)."""

    stats: pd.DataFrame
    rows: tuple[pd.DataFrame, ...]


def _plan(spec: AggSpec) -> tuple[dict[tuple[str, str | None], str], list[tuple[str, str]]]:
    """Stats shared by all values, deduplicated: {(kind, column): "s<i>"}, and the row stats.

    Derived from the spec alone, so partial and combine (maybe in other processes) agree.
    """
    if len(set(spec.by)) != len(spec.by):
        raise ValueError(f"'by' names a column twice: {list(spec.by)}")
    names = [name for name, _, _ in spec.values]
    clash = sorted({n for n in names if names.count(n) > 1 or n in spec.by})
    if clash:
        raise ValueError(f"aggregate output names must be unique and not 'by' columns: {clash}")
    stats: dict[tuple[str, str | None], str] = {("size", None): "s0"}
    rows: list[tuple[str, str]] = []
    for name, fn, column in spec.values:
        if fn not in AGGREGATES:
            raise ValueError(f"unknown aggregate function '{fn}' in '{name}'")
        if column is None:
            if fn != "count":
                raise ValueError(f"{fn}() in '{name}' needs a column")
            continue
        if fn in _ROW_KINDS:
            if (fn, column) not in rows:
                rows.append((fn, column))
            continue
        for kind in _NEEDS[fn]:
            stats.setdefault((kind, column), f"s{len(stats)}")
    return stats, rows


def _check_numeric(frame: pd.DataFrame, spec: AggSpec) -> None:
    for name, fn, column in spec.values:
        if fn in _NUMERIC_ONLY and not pd.api.types.is_numeric_dtype(frame[column].dtype):
            raise TypeError(
                f"{fn}() in '{name}' needs a numeric column, but '{column}' is {frame[column].dtype}"
            )


def _divide(num: Any, den: Any) -> np.ndarray:
    """num / den as float64, NaN where den is 0 (an all-missing group), without a warning."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def _group_codes(frame: pd.DataFrame, by: list[str], sort: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each row's group number (missing keys form groups), and each group's first row."""
    if not by:
        codes = np.zeros(len(frame), dtype=np.int64)
    elif len(by) == 1 and not sort and not isinstance(frame[by[0]].dtype, pd.CategoricalDtype):
        # one key: factorize numbers values by first appearance, as ngroup(sort=False) does, for
        # a fraction of groupby's set-up (a categorical key keeps groupby: its unused categories)
        codes = pd.factorize(frame[by[0]], sort=False, use_na_sentinel=False)[0].astype(np.int64, copy=False)
    else:
        codes = frame.groupby(by, sort=sort, dropna=False).ngroup().to_numpy(dtype=np.int64)
    ngroups = int(codes.max()) + 1 if len(codes) else 0
    first = np.empty(ngroups, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # repeated targets keep the last write
    return codes, first


def partial(frame: pd.DataFrame, spec: AggSpec, device: ArrayDevice | None = None) -> AggPartial:
    """One row per group and decomposable statistic; rows only where no summary is exact.
    On a `device`, the count and sum of float columns are scattered there (engine.device)."""
    stats, rows = _plan(spec)
    _check_numeric(frame, spec)
    by = list(spec.by)
    # sort=False numbers groups by first appearance, so first positions come out in code order
    codes, first = _group_codes(frame, by, sort=False)
    ngroups = len(first)
    keys = frame[by].take(first).reset_index(drop=True)
    keys.columns = [f"k{i}" for i in range(len(by))]
    grouped = frame.groupby(codes, sort=True)
    on_device = _device_stats(frame, stats, device)
    named = {
        s: (col, kind)
        for (kind, col), s in stats.items()
        if kind not in ("size", "m2", "count") and s not in on_device
    }
    out = grouped.agg(**named).reset_index(drop=True) if named else pd.DataFrame(index=range(ngroups))
    out["s0"] = np.bincount(codes, minlength=ngroups).astype(np.int64)
    for (kind, col), s in stats.items():
        if kind == "count" and s not in on_device:  # exact integer counts, without groupby's set-up
            known = frame[col].notna().to_numpy()
            out[s] = np.bincount(codes[known], minlength=ngroups).astype(np.int64)
    if device is not None and on_device:
        for s, values in _scatter(device, codes, ngroups, frame, on_device).items():
            out[s] = values
    for (kind, col), s in stats.items():
        if kind == "m2":  # two-pass sum of squared deviations from the partition's group mean
            mean = _divide(out[stats["sum", col]], out[stats["count", col]])
            dev = frame[col].to_numpy(dtype=np.float64, na_value=np.nan) - mean[codes]
            out[s] = pd.Series(dev * dev).groupby(codes, sort=True).sum().to_numpy()
    positions = _first_last_positions(frame, codes, ngroups, stats)
    out = pd.concat([keys, out[list(stats.values())], positions], axis=1)
    kept = []
    for kind, col in rows:
        values = frame[col].astype(np.float64) if kind == "median" else frame[col]
        pairs = pd.DataFrame({"g": codes, "v": values.to_numpy() if kind == "median" else values.array})
        pairs = pairs[pairs["v"].notna()]
        kept.append((pairs.drop_duplicates() if kind == "nunique" else pairs).reset_index(drop=True))
    return AggPartial(stats=out, rows=tuple(kept))


def _device_stats(
    frame: pd.DataFrame, stats: dict[tuple[str, str | None], str], device: ArrayDevice | None
) -> dict[str, tuple[str, str]]:
    """The count and sum statistics of float columns, {stat: (kind, column)}, when on a device."""
    if device is None:
        return {}
    return {
        s: (kind, col)
        for (kind, col), s in stats.items()
        if kind in ("count", "sum") and col is not None and frame[col].dtype == np.float64
    }


def _scatter(
    device: ArrayDevice,
    codes: np.ndarray,
    ngroups: int,
    frame: pd.DataFrame,
    wanted: dict[str, tuple[str, str]],
) -> dict[str, np.ndarray]:
    """Per-group counts and sums of float columns on the device, each column moved there once;
    matches pandas (missing skipped, an all-missing group sums to 0) within float rounding."""
    xp = device.xp
    groups = device.to_device(codes)
    moved: dict[str, tuple[Any, Any]] = {}
    out = {}
    for s, (kind, col) in wanted.items():
        if col not in moved:
            values = device.to_device(frame[col].to_numpy(dtype=np.float64, na_value=np.nan))
            present = ~xp.isnan(values)
            moved[col] = (xp.where(present, values, 0.0), present)
        values, present = moved[col]
        if kind == "count":
            result = xp.bincount(groups, weights=present.astype(xp.float64), minlength=ngroups)
            out[s] = device.to_host(result).astype(np.int64)
        else:
            # astype: bincount of no rows is int64, even with float weights
            out[s] = device.to_host(xp.bincount(groups, weights=values, minlength=ngroups)).astype(np.float64)
    return out


def _first_last_positions(
    frame: pd.DataFrame, codes: np.ndarray, ngroups: int, stats: dict[tuple[str, str | None], str]
) -> pd.DataFrame:
    """Row positions (the frame's index) of each group's first/last non-missing value, so that
    combine picks by position, not by partition order: after a hash split they differ."""
    out = {}
    index = frame.index.to_numpy()
    for (kind, col), s in stats.items():
        if kind in ("first", "last"):
            known = frame[col].notna().to_numpy()
            pos = pd.Series(index[known], dtype=np.float64).groupby(codes[known], sort=True)
            out[f"{s}p"] = (pos.min() if kind == "first" else pos.max()).reindex(range(ngroups)).to_numpy()
    return pd.DataFrame(out, index=range(ngroups))


def _pick_by_position(table: pd.DataFrame, ids: np.ndarray, s: str, kind: str) -> pd.Series:
    """first/last: the value whose row position is smallest/largest (missing values skipped)."""
    order = np.argsort(table[f"{s}p"].to_numpy(), kind="stable")  # NaN positions sort last
    grouped = table[s].take(order).groupby(ids[order], sort=True)
    return (grouped.first() if kind == "first" else grouped.last()).reset_index(drop=True)


def combine(partials: Sequence[AggPartial], spec: AggSpec) -> pd.DataFrame:
    """Merge partials in the given order: one groupby over the concatenated statistics."""
    if not partials:
        raise ValueError("combine needs at least one partial (an empty input still gives one)")
    stats, rows = _plan(spec)
    frames = [p.stats for p in partials]
    # empty partials carry no values; leaving them out keeps dtypes as on the whole table
    table = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    kcols = [f"k{i}" for i in range(len(spec.by))]
    ids, first = _group_codes(table, kcols, sort=True)
    ngroups = len(first)
    kind_of = {s: kind for (kind, _), s in stats.items()}
    how = {s: "sum" if kind in _ADDITIVE else kind for s, kind in kind_of.items()}
    res = table.groupby(ids, sort=True).agg(**{s: (s, h) for s, h in how.items()}).reset_index(drop=True)
    for s, kind in kind_of.items():
        if kind in ("first", "last") and len(table):
            res[s] = _pick_by_position(table, ids, s, kind)
    if not kcols and ngroups == 0:  # no `by` and no rows: still one row, as whole-column reductions
        dtypes = res.dtypes
        widen = [s for s in res if kind_of[s] not in _ADDITIVE and dtypes[s].kind in "iub"]
        res = res.astype(dict.fromkeys(widen, np.float64)).reindex(range(1))
        res = res.fillna({s: 0 for s in res if kind_of[s] in _ADDITIVE}).astype(
            {s: dtypes[s] for s in res if kind_of[s] in _ADDITIVE}
        )
        ngroups = 1
    out: dict[str, Any] = {
        b: table[k].take(first).reset_index(drop=True) for b, k in zip(spec.by, kcols, strict=True)
    }
    offsets = np.cumsum([0] + [len(f) for f in frames])[:-1]
    for name, fn, col in spec.values:
        if fn in _ROW_KINDS:
            out[name] = _row_stat(partials, rows.index((fn, col)), ids, offsets, ngroups, fn)
        elif col is None:
            out[name] = res["s0"]
        elif fn in ("mean", "var", "std"):
            n, total = res[stats["count", col]], res[stats["sum", col]]
            mean = _divide(total, n)
            if fn == "mean":
                out[name] = mean
                continue
            # Chan's parallel formula, k-way form: M2 = sum M2_i + sum n_i (mean_i - mean)^2
            n_i = table[stats["count", col]].to_numpy(dtype=np.float64)
            delta = np.where(n_i > 0, _divide(table[stats["sum", col]], n_i) - mean[ids], 0.0)
            spread = n_i * delta * delta
            m2 = res[stats["m2", col]].to_numpy() + np.bincount(ids, weights=spread, minlength=ngroups)
            var = _divide(m2, np.asarray(n) - 1)
            out[name] = np.sqrt(var) if fn == "std" else var
        else:
            out[name] = res[stats[fn, col]]
    return pd.DataFrame(out, index=pd.RangeIndex(ngroups)) if out else pd.DataFrame(index=range(ngroups))


def _row_stat(
    partials: Sequence[AggPartial], j: int, ids: np.ndarray, offsets: np.ndarray, ngroups: int, fn: str
) -> np.ndarray:
    """median / nunique over the kept rows of all partials, mapped to the combined group ids."""
    parts = [p.rows[j] for p in partials]
    gid = np.concatenate(
        [ids[off + r["g"].to_numpy(dtype=np.int64)] for off, r in zip(offsets, parts, strict=True)]
    )
    values = pd.concat([r["v"] for r in parts if len(r)] or [parts[0]["v"]], ignore_index=True)
    grouped = values.groupby(gid, sort=True)
    if fn == "median":
        result, out = grouped.median(), np.full(ngroups, np.nan)
    else:
        result, out = grouped.nunique(), np.zeros(ngroups, dtype=np.int64)
    out[result.index.to_numpy(dtype=np.int64)] = result.to_numpy()
    return out


def aggregate(frame: pd.DataFrame, spec: AggSpec) -> pd.DataFrame:
    """The whole table as a single partition."""
    return combine([partial(frame, spec)], spec)
