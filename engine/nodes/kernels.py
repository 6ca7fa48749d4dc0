"""The pandas work of the built-in nodes, one vectorised function per step.

Imported only when a project runs (validation never needs pandas). Every function takes and
returns partitions indexed by row position and is a plain module-level function, so steps that
bind it with functools.partial pickle by reference into loky workers.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..expr import Column, parse
from ..frames import assembled, default_partitions, ordered, renumber, split, split_pieces
from .textclass import remove_chars

if TYPE_CHECKING:
    from ..device import ArrayDevice

# ------------------------------------------------------------------------------------- sources


def row_spans(rows: int, chunk_rows: int) -> Iterator[tuple[int, int]]:
    """[start, stop) of each chunk; one empty chunk for an empty table (it still has columns)."""
    for start in range(0, max(rows, 1), chunk_rows):
        yield start, min(rows, start + chunk_rows)


def generated(rows: int, seed: int, dataset: str, span: tuple[int, int]) -> pd.DataFrame:
    """One chunk of a generated table: made where the task runs, so generation is parallel too."""
    from .generate import orders

    makers = {"orders": orders}
    return makers[dataset](rows, seed, *span)


def csv_blocks_for(path: Path, options: dict[str, Any]) -> Iterator[Any]:
    """The byte-range blocks of a CSV source: each is scanned, then read, in its own task. Both passes
    ask for them; while the file is unchanged the second gets the first's, without cutting again.
    Blocks are cut as tasks take them, so the first block's task starts at once."""
    from .csvread import csv_blocks

    try:
        stat = path.stat()
    except OSError:
        yield from csv_blocks(path, **options)  # which says what is wrong
        return
    key = json.dumps(options, sort_keys=True)
    yield from _cached_csv_blocks(str(path), key, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _cached_csv_blocks(path: str, options: str, size: int, mtime_ns: int) -> _Replayed:
    from .csvread import csv_blocks

    return _Replayed(csv_blocks(path, **json.loads(options), lazy=True))


class _Replayed:
    """An iterator's items, produced once as they are first asked for and given again after."""

    def __init__(self, items: Iterator[Any]) -> None:
        self._items, self._seen, self._lock = items, [], threading.Lock()
        self._error: Exception | None = None  # raised again to every later reader

    def __iter__(self) -> Iterator[Any]:
        i = 0
        while True:
            with self._lock:
                if i == len(self._seen):
                    if self._error is not None:
                        raise self._error
                    try:
                        item = next(self._items, _END)
                    except BaseException as exc:  # the generator is done for: the next run cuts again
                        self._error = exc if isinstance(exc, Exception) else RuntimeError("interrupted")
                        _cached_csv_blocks.cache_clear()
                        raise
                    if item is _END:
                        return
                    self._seen.append(item)
                item = self._seen[i]
            yield item
            i += 1


_END = object()


def parquet_partitions(path: Path, columns: list[str] | None) -> Iterator[pd.DataFrame]:
    """One partition per row group, files of a directory in name order."""
    import pyarrow.parquet as pq

    if not path.exists():
        raise DataError(f"file not found: {path}")
    files = sorted(p for p in path.rglob("*.parquet")) if path.is_dir() else [path]
    position = 0
    emitted = False
    for file in files:
        reader = pq.ParquetFile(file)
        for group in range(reader.num_row_groups):
            frame = reader.read_row_group(group, columns=columns).to_pandas()
            frame.index = pd.RangeIndex(position, position + len(frame))
            position += len(frame)
            emitted = True
            yield frame
        if not emitted and reader.num_row_groups == 0:
            frame = reader.schema_arrow.empty_table().to_pandas()
            emitted = True
            yield frame[columns] if columns else frame


# --------------------------------------------------------------------------------------- sinks


def write_csv(parts: Iterator[pd.DataFrame], path: Path) -> None:
    """UTF-8, header, no index, ','; pandas writes floats with repr, so they read back equal."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        for i, part in enumerate(parts):
            part.to_csv(f, header=i == 0, index=False, lineterminator="\n")


def write_parquet(parts: Iterator[pd.DataFrame], path: Path) -> None:
    table = ordered(list(parts))
    table.reset_index(drop=True).to_parquet(path, index=False)


# --------------------------------------------------------------------------------------- clean


def clean_before_cast(
    frame: pd.DataFrame, rename: dict | None, keep: list | None, drop: list | None
) -> pd.DataFrame:
    if rename:
        frame = frame.rename(columns=rename)
    if keep is not None:
        frame = frame[keep]
    if drop:
        frame = frame.drop(columns=drop)
    return frame


def cast(frame: pd.DataFrame, casts: dict[str, str]) -> pd.DataFrame:
    """Convert columns like pandas' astype; a value that does not convert names its row."""
    frame = frame.copy(deep=False)
    for column, dtype in casts.items():
        if dtype != "category":
            frame[column] = _cast_series(frame[column], dtype, column)
    return frame


def _cast_series(series: pd.Series, dtype: str, column: str) -> pd.Series:
    try:
        if dtype == "datetime":
            return _to_datetime(series)
        target = {"string": "str", "int64": "int64", "float64": "float64", "bool": "bool"}[dtype]
        return series.astype(target)
    except (ValueError, TypeError, OverflowError) as exc:
        row = _first_bad_row(series, dtype)
        hint = (
            "; fill missing values first, or cast to float64"
            if dtype == "int64" and series.isna().any()
            else ""
        )
        where = f" (data row {row + 1}: {series.loc[row]!r})" if row is not None else ""
        raise DataError(f"cannot cast to {dtype}{where}: {exc}{hint}", column=column) from None


def _to_datetime(series: pd.Series) -> pd.Series:
    """Each value parsed on its own (ISO 8601, else pandas' mixed formats), so the result
    never depends on which value a partition happens to start with."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series
    try:
        return pd.to_datetime(series, format="ISO8601")
    except ValueError:
        return pd.to_datetime(series, format="mixed")


def _first_bad_row(series: pd.Series, dtype: str) -> Any:
    if dtype == "datetime":
        bad = pd.to_datetime(series, errors="coerce", format="mixed").isna() & series.notna()
    elif dtype in ("int64", "float64"):
        numbers = pd.to_numeric(series, errors="coerce")
        bad = numbers.isna()
        if dtype == "int64":
            bad |= numbers.notna() & (numbers != np.floor(numbers.fillna(0)))
    else:
        return None
    hits = series.index[bad.to_numpy()]
    return hits[0] if len(hits) else None


def categories_partial(frame: pd.DataFrame, columns: list[str]) -> dict[str, pd.Series]:
    return {c: pd.Series(frame[c].dropna().unique()) for c in columns}


def categories_combine(partials: list[dict[str, pd.Series]]) -> dict[str, pd.CategoricalDtype]:
    """The categories pandas' astype('category') gives the whole column: its sorted uniques."""
    out = {}
    for column in partials[0] if partials else {}:
        values = pd.concat([p[column] for p in partials], ignore_index=True).drop_duplicates()
        out[column] = pd.CategoricalDtype(values.sort_values(kind="stable").to_numpy())
    return out


def categories_finish(frame: pd.DataFrame, dtypes: dict[str, pd.CategoricalDtype]) -> pd.DataFrame:
    frame = frame.copy(deep=False)
    for column, dtype in dtypes.items():
        frame[column] = frame[column].astype(dtype)
    return frame


def clean_after_cast(
    frame: pd.DataFrame, text: list[dict] | None, fill: dict | None, drop_missing: str | list | None
) -> pd.DataFrame:
    if text or fill:
        frame = frame.copy(deep=False)
    for rule in text or []:
        s = frame[rule["column"]]
        if rule.get("lower"):
            s = s.str.lower()
        if rule.get("strip"):
            s = s.str.strip()
        if rule.get("remove"):
            s = remove_chars(s, rule["remove"])
        frame[rule["column"]] = s
    for column, value in (fill or {}).items():
        frame[column] = frame[column].fillna(value)
    if drop_missing == "any":
        frame = frame.dropna(how="any")
    elif drop_missing:
        frame = frame.dropna(subset=drop_missing, how="any")
    return frame


_BUCKET_BITS = 5  # 32 buckets by the hash's top bits: each bucket's hash table fits in cache


def row_hashes(frame: pd.DataFrame, subset: list[str] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round one of dedupe: each row's 64-bit hash of its key values and its position, grouped
    by bucket (the hash's top bits), with the bucket bounds."""
    keys = frame if subset is None else frame[subset]
    hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    bucket = (hashes >> np.uint64(64 - _BUCKET_BITS)).astype(np.uint8)
    order = np.argsort(bucket, kind="stable")  # a radix sort for 8-bit keys
    bounds = np.zeros(2**_BUCKET_BITS + 1, dtype=np.int64)
    np.cumsum(np.bincount(bucket, minlength=2**_BUCKET_BITS), out=bounds[1:])
    return hashes[order], frame.index.to_numpy()[order], bounds


def hash_candidates(partials: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Positions whose hash occurs more than once (only these can be duplicates), bucket by
    bucket: 32 small hash tables are several times faster than one large one."""
    found = []
    for b in range(2**_BUCKET_BITS):
        hashes = np.concatenate([h[bounds[b] : bounds[b + 1]] for h, _, bounds in partials] or [[]])
        if len(hashes) < 2:
            continue
        repeated = pd.Series(hashes).duplicated(keep=False).to_numpy()
        if repeated.any():
            positions = np.concatenate([p[bounds[b] : bounds[b + 1]] for _, p, bounds in partials])
            found.append(positions[repeated])
    return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)


def candidate_rows(frame: pd.DataFrame, subset: list[str] | None, previous: np.ndarray) -> pd.DataFrame:
    """Round two: the key values of this partition's candidate rows only."""
    keys = frame if subset is None else frame[subset]
    return keys[frame.index.isin(previous)]


def duplicate_positions(partials: list[pd.DataFrame]) -> np.ndarray:
    """Exact comparison of the candidates, in table order: the positions to drop."""
    keys = ordered(partials)
    return keys.index.to_numpy()[keys.duplicated(keep="first").to_numpy()]


def drop_positions(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    return frame[~frame.index.isin(positions)] if len(positions) else frame


# ------------------------------------------------------------------------------------- compute


def _to_array(series: pd.Series) -> Any:
    """A column as the evaluator takes it: NumPy, missing as NaN / None / NaT."""
    if (
        isinstance(series.dtype, pd.CategoricalDtype)
        or series.dtype == object
        or pd.api.types.is_string_dtype(series.dtype)
    ):
        return series.to_numpy(dtype=object, na_value=None)
    if pd.api.types.is_bool_dtype(series.dtype) and series.dtype != bool:
        return Column(series.fillna(False).to_numpy(dtype=bool), series.isna().to_numpy())
    return series.to_numpy()


def _to_series(column: Column, index: pd.Index) -> pd.Series:
    data, mask = column.data, column.mask
    has_missing = mask is not None and bool(mask.any())
    kind = data.dtype.kind
    if kind == "O" or kind == "U":
        values = np.asarray(data, dtype=object)
        if has_missing:
            values = values.copy()
            values[mask] = None
        return pd.Series(values, index=index, dtype="str")
    if not has_missing:
        return pd.Series(data, index=index)
    if kind in "iuf":
        values = data.astype(np.float64, copy=True)
        values[mask] = np.nan
        return pd.Series(values, index=index)
    if kind == "M":
        values = data.copy()
        values[mask] = np.datetime64("NaT")
        return pd.Series(values, index=index)
    values = data.astype(object)
    values[mask] = np.nan
    return pd.Series(values, index=index)


def evaluate(frame: pd.DataFrame, text: str) -> Column:
    expr = parse(text)
    columns = {name: _to_array(frame[name]) for name in expr.columns if name in frame.columns}
    return expr.evaluate(columns, len(frame))


class _OnDevice:
    """One partition's numeric columns on an array device (engine.device): each moved there once,
    columns derived on the device kept there for later expressions, only results copied back."""

    def __init__(self, device: ArrayDevice) -> None:
        self.device = device
        self.held: dict[str, Column] = {}

    def evaluate(self, frame: pd.DataFrame, text: str) -> Column | None:
        """The result on the device, or None when the expression reads a column the device can't
        hold (text, dates, nullable values as objects): then it runs on the CPU."""
        expr = parse(text)
        arrays = {}
        for name in expr.columns:
            if name not in frame.columns:
                continue  # the evaluator names the unknown column
            if name not in self.held:
                value = _to_array(frame[name])
                data, mask = value if isinstance(value, Column) else (value, None)
                if data.dtype.kind not in "biuf":
                    return None
                to = self.device.to_device
                self.held[name] = Column(to(data), None if mask is None else to(mask))
            arrays[name] = self.held[name]
        return expr.evaluate(arrays, len(frame), self.device.xp)

    def host(self, column: Column) -> Column:
        return Column(self.device.to_host(column.data), self.device.to_host(column.mask))

    def keep(self, rows: Any) -> None:
        """Rows kept by a filter (a device bool array), for every held column."""
        self.held = {
            name: Column(c.data[rows], None if c.mask is None else c.mask[rows])
            for name, c in self.held.items()
        }


def compute_rows(
    frame: pd.DataFrame,
    filter_text: str | None,
    columns: dict[str, str] | None,
    device: ArrayDevice | None = None,
) -> pd.DataFrame:
    """compute's filter, then its columns in order; numeric expressions on `device` when given."""
    on = _OnDevice(device) if device is not None else None
    if filter_text:
        result = on.evaluate(frame, filter_text) if on else None
        on_device = result is not None
        if result is None:
            result = evaluate(frame, filter_text)
        keep = result.data.astype(bool, copy=False)
        if result.mask is not None:
            keep = keep & ~result.mask
        if on is not None and on_device:
            on.keep(keep)
            keep = on.device.to_host(keep)
        frame = frame[keep]
    if columns:
        frame = frame.copy(deep=False)
        for name, text in columns.items():
            result = on.evaluate(frame, text) if on else None
            if result is not None and on is not None:
                on.held[name] = result
                result = on.host(result)
            else:
                result = evaluate(frame, text)
                if on is not None:
                    on.held.pop(name, None)  # replaced on the CPU: the device copy is stale
            frame[name] = _to_series(result, frame.index)
    return frame


def sort_partial(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def sort_combine(partials: list[pd.DataFrame], keys: list[str], partitions: int) -> list[pd.DataFrame]:
    table = ordered(partials)
    by = [k[1:] if k.startswith("-") else k for k in keys]
    ascending = [not k.startswith("-") for k in keys]
    table = table.sort_values(by, ascending=ascending, kind="stable", na_position="last")
    return split(renumber(table), partitions)


# ----------------------------------------------------------------------------------- partition


def repartition_rows(parts: list[Any], n: int | None) -> list[Any]:
    """Contiguous row ranges: slices of the input (frames, or spilled ones), assembled in the
    next stage's tasks."""
    n = n or default_partitions(sum(len(p) for p in parts))
    pieces = split_pieces(parts, n)
    return pieces if pieces is not None else split(ordered([assembled(p) for p in parts]), n)


def repartition_hash(parts: list[Any], n: int | None, key: list[str]) -> list[pd.DataFrame]:
    """Equal keys in one partition; rows keep their positions (and their order inside one)."""
    n = n or default_partitions(sum(len(p) for p in parts))
    pieces: list[list[pd.DataFrame]] = [[] for _ in range(n)]
    empty = None
    for part in map(assembled, parts):  # a spilled frame is read back one at a time
        bucket = pd.util.hash_pandas_object(part[key], index=False).to_numpy() % np.uint64(n)
        for b in range(n):
            pieces[b].append(part[bucket == b])
        empty = part.iloc[:0] if empty is None else empty
    return [ordered(p) if p else empty for p in pieces]


# --------------------------------------------------------------------------------------- merge


def merge_tables(
    tables: dict[str, pd.DataFrame | None], how: str, on: list[str] | None, partitions: int
) -> list[pd.DataFrame]:
    left, right = tables["left"], tables.get("right")
    if right is None:
        table = left
    elif how == "concat":
        table = pd.concat([left, right], ignore_index=True)
    else:
        table = left.merge(right, how=how, on=on, suffixes=("", "_right"))
    return split(renumber(table), partitions)
