"""`source.csv`: read a CSV file lazily in chunks, with the column types pandas infers over the whole file.

Pass 1 (`scan_csv`) reads with pandas' C reader chunk by chunk, keeps no data, and unifies the chunks'
inferred dtypes into the one `pd.read_csv` infers for the whole column; pass 2 (`read_csv_chunks`)
re-reads with those dtypes forced (so "007" in a text column stays "007"). Where chunks cannot tell
what pandas would do, scanning fails naming the column and line and suggesting `dtypes`.
"""

from __future__ import annotations

import difflib
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas._libs.parsers import STR_NA_VALUES  # pandas' default missing tokens
from pandas._libs.tslib import first_non_null  # the value pandas guesses a date format from

from ..errors import DataError

__all__ = ["FORMAT_DTYPES", "CsvPlan", "default_chunk_rows", "read_csv_chunks", "scan_csv"]

# Format dtype names -> the `dtype=` read_csv takes for them; "datetime" goes through parse_dates.
FORMAT_DTYPES: dict[str, str | None] = dict(
    int64="int64", float64="float64", string="str", bool="bool", datetime=None, category="category"
)
# 16 MB of text per chunk: measured as fast as 4-32 MB here, and cache-friendlier than larger chunks.
TARGET_CHUNK_BYTES = 16 * 2**20
MIN_CHUNK_ROWS = 1000
_SAMPLE_BYTES = 2**20
_UNITS = ("s", "ms", "us", "ns")
_EXPECTED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_ROW = re.compile(r"starting at row (\d+)")
# Text is read as Arrow strings, then cast (without a copy) to pandas' "str": the same values, 4x
# faster than read_csv's dtype="str", which goes through Python objects.
_TEXT = pd.ArrowDtype(pa.large_string())


@dataclass(frozen=True, eq=False)
class CsvPlan:
    """What pass 2 needs, found by pass 1; picklable, so any worker can read the chunks."""

    path: str  # the file, as given
    delimiter: str  # one character
    columns: tuple[str, ...]  # output columns, in output order
    usecols: tuple[str, ...] | None  # read_csv's usecols (None: every column, as pandas then checks widths)
    na_values: tuple[str, ...]  # missing tokens on top of pandas' defaults
    read_dtypes: dict[str, Any]  # pass 2's dtype=; a column not here is inferred per chunk, then cast
    dtypes: dict[str, Any]  # each output column's pandas dtype: what one pd.read_csv gives
    date_formats: dict[str, str | None]  # columns parsed as dates, with the format pandas guesses
    rows: int  # data rows in the file
    chunk_rows: int  # default rows per chunk of pass 2


def default_chunk_rows(path: str | os.PathLike[str]) -> int:
    """~16 MB of text per chunk, from the bytes per row of the file's first MB; never from workers."""
    try:
        with open(path, "rb") as f:
            sample = f.read(min(os.path.getsize(path), _SAMPLE_BYTES))
    except OSError as exc:
        raise DataError(f"cannot read '{os.fspath(path)}': {exc.strerror or exc}") from None
    per_row = max(len(sample) / max(sample.count(b"\n"), 1), 1.0)
    return max(MIN_CHUNK_ROWS, int(TARGET_CHUNK_BYTES // per_row))


def scan_csv(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = ",",
    columns: Sequence[str] | None = None,
    dtypes: dict[str, str] | None = None,
    parse_dates: Sequence[str] | None = None,
    na_values: Sequence[str] | None = None,
    chunk_rows: int | None = None,
) -> CsvPlan:
    """Pass 1, in chunks of `chunk_rows` (default: from the data): header, whole-file dtypes, category
    sets and row count. Raises DataError for problems."""
    path, delimiter, nas = os.fspath(path), delimiter or ",", tuple(na_values or ())
    if len(delimiter) != 1:
        raise DataError(f"delimiter must be one character, not {delimiter!r}")
    if chunk_rows is not None and chunk_rows < 1:
        raise DataError(f"chunk_rows must be at least 1, not {chunk_rows}")
    if not os.path.isfile(path):
        raise DataError(f"file not found: '{path}'")
    selected, user = _resolve(path, delimiter, columns, dtypes or {}, parse_dates or ())
    usecols = tuple(selected) if columns is not None else None
    cats = [c for c, t in user.items() if t == "category"]
    forced = {c: FORMAT_DTYPES[t] for c, t in user.items() if t not in ("datetime", "category")}
    dates = {c: _DateScan() for c, t in user.items() if t == "datetime"}
    inferred = [c for c in selected if c not in user]
    k = chunk_rows or default_chunk_rows(path)
    tokens = pd.Index([*STR_NA_VALUES, *nas], dtype="str")
    numbers = _numbers(nas)  # pandas also drops values equal to these, in some paths only
    loose: dict[str, dict[str, Any]] = {}

    src = _Source(path, delimiter, nas)
    formats = _date_formats(src, list(dates), min(k, 10 * MIN_CHUNK_ROWS))
    kinds: dict[str, set[str]] = {c: set() for c in inferred}
    seen = {c: pd.Index([], dtype="str") for c in cats}
    rows = 0
    read = forced | dict.fromkeys(cats, "str")
    for start, chunk in _chunks(src, usecols, read, k, dates=formats, forced=forced):
        if start == 0 and not isinstance(chunk.index, pd.RangeIndex):
            raise DataError("the first data line has more fields than the header", line=_line(path, row=0))
        for c in inferred:
            kinds[c].add(_kind(chunk[c], tokens))
            if numbers and chunk[c].dtype.kind in "if":
                _watch(chunk[c], numbers, start, loose.setdefault(c, {}))
            if _unify(kinds[c]) is None:
                raise DataError(
                    f"pandas' type for this column depends on the whole file ({sorted(kinds[c])} in chunks); "
                    'set it with the `dtypes` param ("string" or "float64")',
                    column=c,
                    line=_line(path, row=start),
                )
        for c in cats:
            seen[c] = seen[c].append(pd.Index(chunk[c].dropna().unique())).unique()
        for c, scan in dates.items():
            scan.add(chunk[c])
        rows = start + len(chunk)

    final: dict[str, Any] = {c: pd.api.types.pandas_dtype(t) for c, t in forced.items()}
    for c in inferred:
        kind = _unify(kinds[c])
        final[c] = np.dtype(object) if kind == "object" else pd.api.types.pandas_dtype(kind)
        if kind == "float64" and "row" in loose.get(c, {}) and not loose[c].get("fraction"):
            raise DataError(
                f"{loose[c]['value']!r} equals a missing-value token only as a number, and whether pandas "
                "reads it as missing depends on the whole column: write it as in na_values, or give dtypes",
                column=c,
                line=_line(path, row=loose[c]["row"]),
            )
        if kind != "object":  # bools with missing values are inferred per chunk, then cast to object
            read[c] = kind
    for c in cats:
        read[c] = final[c] = _categories(seen[c], nas)
    for c, scan in dates.items():
        final[c] = scan.dtype()
        if final[c].kind != "M":  # some value does not fit pandas' format: it keeps the text
            read[c] = "str"
            del formats[c]
    if rows == 0:  # header only: take pandas' own empty frame
        options = {"usecols": usecols, "dtype": forced | dict.fromkeys(cats, "category")}
        with _errors(path):
            empty = pd.read_csv(
                path, sep=delimiter, na_values=list(nas) or None, parse_dates=list(dates), **options
            )
        final = dict(empty.dtypes.items())
    dtypes_out = {c: final[c] for c in selected}
    return CsvPlan(path, delimiter, tuple(selected), usecols, nas, read, dtypes_out, formats, rows, k)


def read_csv_chunks(plan: CsvPlan, *, chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """Pass 2: chunks with the plan's dtypes, indexed by global row position (a RangeIndex)."""
    k = chunk_rows or plan.chunk_rows
    if k < 1:
        raise DataError(f"chunk_rows must be at least 1, not {k}")
    order = list(plan.columns)
    if plan.rows == 0:
        yield pd.DataFrame({c: pd.Series([], dtype=plan.dtypes[c]) for c in order}, index=pd.RangeIndex(0))
        return
    fixes = [c for c in order if c not in plan.read_dtypes or c in plan.date_formats]
    src = _Source(plan.path, plan.delimiter, plan.na_values)
    for start, chunk in _chunks(src, plan.usecols, plan.read_dtypes, k, dates=plan.date_formats):
        for c in fixes:  # dates in each chunk's unit, and bools with missing values, to the plan's dtype
            if chunk[c].dtype != plan.dtypes[c]:
                chunk[c] = _cast(chunk[c], plan.dtypes[c])
        if list(chunk.columns) != order:
            chunk = chunk[order]
        chunk.index = pd.RangeIndex(start, start + len(chunk))
        yield chunk


# ------------------------------------------------------------------------------------- inference


def _resolve(
    path: str,
    delimiter: str,
    columns: Sequence[str] | None,
    dtypes: dict[str, str],
    parse_dates: Sequence[str],
) -> tuple[list[str], dict[str, str]]:
    """The output columns, and the format dtype asked for each (parse_dates become "datetime")."""
    names, raw = _header(path, delimiter)
    selected = list(columns) if columns is not None else names
    _require(selected, names, "columns")
    if len(set(selected)) < len(selected) or not selected:
        raise DataError(f"columns must name each column once, and at least one: {selected}")
    for col, name in dtypes.items():
        if name not in FORMAT_DTYPES:
            raise DataError(f"unknown dtype {name!r}{_suggest(name, FORMAT_DTYPES)}", column=col)
    _require(dtypes, [*names, *raw.values()], "dtypes")
    _require(parse_dates, names, "parse_dates")
    # pandas applies a dtype given for a repeated header name to each of its copies ("a", "a.1").
    named = {c: dtypes.get(c, dtypes.get(raw[c])) for c in selected}
    user = {c: t for c, t in named.items() if t is not None}
    for c in parse_dates:
        if c not in selected:
            raise DataError("a parse_dates column must be among `columns`", column=c, line=1)
        if user.setdefault(c, "datetime") != "datetime":
            raise DataError(f"in parse_dates, but dtypes says {user[c]!r}", column=c)
    return selected, user


def _kind(col: pd.Series, tokens: pd.Index) -> str:
    """One chunk's inferred dtype as a unification class."""
    dt = col.dtype
    if dt.kind == "f":
        return "na" if col.isna().all() else "float"
    if dt.kind == "i":
        return "neg" if col.min() < 0 else "int"
    if dt.kind in "ub":
        return {"u": "uint", "b": "bool"}[dt.kind]
    if isinstance(dt, pd.StringDtype):
        # Integers beyond int64 with missing values: pandas keeps the missing tokens as text (GH#14983).
        # Such a chunk holds only those two; its first value tells whether to look further.
        head = col.iloc[:1]
        suspect = head.isin(tokens).any() or head.str.fullmatch(r"\s*[+-]?\d+\s*").any()
        return "other" if suspect and col.isin(tokens).any() else "str"
    return "boolna" if pd.api.types.infer_dtype(col, skipna=True) == "boolean" else "other"


def _unify(kinds: set[str]) -> str | None:
    """The dtype pandas infers for a column whose chunks have these kinds; None when it cannot tell."""
    some = kinds - {"na"}
    if not some:
        return "float64"  # all missing
    if "other" in some:
        return None
    if "str" in some:
        return "str"
    if some <= {"bool", "boolna"}:
        return "bool" if kinds == {"bool"} else "object"
    if some & {"bool", "boolna"}:
        return "str"  # True/False next to numbers: neither parse fits every value
    if "uint" in some:
        if kinds <= {"uint", "int"}:
            return "uint64"
        # int64 overflows and uint64 fails on negatives: text. With missing values or floats pandas'
        # result depends on the order of values (it may keep missing tokens as text): ask for dtypes.
        return "str" if kinds <= {"uint", "int", "neg"} else None
    return "int64" if kinds <= {"int", "neg"} else "float64"  # with missing values or floats: float64


class _DateScan:
    """One date column in pass 1: each chunk's unit and zone, their range, or that pandas' parse failed."""

    def __init__(self) -> None:
        self.failed = False
        self.units: set[str] = set()
        self.zones: set[Any] = set()
        self.bounds: list[pd.Timestamp] = []

    def add(self, parsed: pd.Series) -> None:
        if parsed.dtype.kind != "M":
            self.failed = True  # pandas then leaves the whole column as text
        elif parsed.notna().any():  # all-missing chunks come back in seconds
            self.units.add(parsed.dt.unit)
            self.zones.add(parsed.dt.tz)
            self.bounds += [parsed.min(), parsed.max()]

    def dtype(self) -> Any:
        """pandas' dtype for the whole column: the finest unit seen; text where a whole parse fails."""
        unit = max(self.units, key=_UNITS.index, default="s")  # all missing: seconds
        try:
            for bound in self.bounds:  # out of the finest unit's range: pandas' parse fails
                bound.as_unit(unit)
        except (ValueError, OverflowError):
            self.failed = True
        if self.failed or len(self.zones) > 1:
            return pd.api.types.pandas_dtype("str")
        zone = next(iter(self.zones), None)
        return pd.DatetimeTZDtype(unit, zone) if zone is not None else np.dtype(f"datetime64[{unit}]")


def _date_formats(src: _Source, dates: list[str], k: int) -> dict[str, str | None]:
    """pandas' format for each date column, guessed from its first non-null value (None: all missing).
    pandas' C fast path guesses per chunk instead, so chunks are parsed from text with this format.
    Where no format can be guessed pandas parses each value with dateutil: "mixed" does that."""
    formats: dict[str, str | None] = dict.fromkeys(dates)
    todo = set(dates)
    for _, chunk in _chunks(src, dates, dict.fromkeys(dates, "str"), k) if dates else ():
        for c in sorted(todo):
            values = chunk[c].to_numpy(dtype=object)
            if (first := int(first_non_null(values))) >= 0:
                todo.discard(c)
                formats[c] = pd.tseries.api.guess_datetime_format(values[first]) or "mixed"
        if not todo:
            break
    return formats


def _dates(text: pd.Series, fmt: str | None) -> pd.Series:
    """pandas' parse_dates of one chunk; a failed parse leaves the text, as pandas does."""
    try:
        return pd.Series(pd.to_datetime(text.to_numpy(dtype=object), format=fmt), index=text.index)
    except (ValueError, TypeError):
        return text


def _watch(values: pd.Series, numbers: list[float], start: int, seen: dict[str, Any]) -> None:
    """Notes the first value equal to a numeric na_value (kept by pandas' int parse, dropped by its
    float parse, which it takes when the column has a fraction), and whether a fraction was seen."""
    if "row" not in seen and (hit := values.isin(numbers).to_numpy()).any():
        seen["row"], seen["value"] = start + int(np.argmax(hit)), values.iloc[int(np.argmax(hit))]
    seen["fraction"] = seen.get("fraction") or bool((values % 1).fillna(0).ne(0).any())


def _numbers(values: Iterable[str]) -> list[float]:
    """The na_values that are numbers, as pandas finds them."""
    found = []
    for value in values:
        with suppress(TypeError, ValueError, OverflowError):
            found.append(float(value))
    return [v for v in found if not np.isnan(v)]


def _cast(values: pd.Series, dtype: Any) -> pd.Series:
    if values.isna().all():  # all-missing chunks come back in another unit or zone, or as float
        return pd.Series(pd.NaT if dtype.kind == "M" else np.nan, index=values.index, dtype=dtype)
    return values.astype(dtype)


def _categories(values: pd.Index, nas: Sequence[str]) -> pd.CategoricalDtype:
    """pandas' categories for the whole file: its own category read of the distinct texts."""
    buf = io.StringIO()  # a second column, so that no line is blank (" " would be skipped)
    pd.DataFrame({"c": values, "_": 0}).to_csv(buf, index=False)
    buf.seek(0)
    return pd.read_csv(buf, dtype={"c": "category"}, na_values=list(nas) or None)["c"].dtype


# ------------------------------------------------------------------------------------------ reading


class _Source(NamedTuple):
    path: str
    delimiter: str
    nas: tuple[str, ...]


def _chunks(
    src: _Source,
    usecols: Sequence[str] | None,
    dtype: dict[str, Any],
    k: int,
    dates: dict[str, str | None] | None = None,
    forced: dict[str, Any] | None = None,
) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first row, chunk) from pandas' C reader, with "str" columns read fast and dates parsed as pandas
    does; its errors become DataErrors naming column and line."""
    path, start, dates = src.path, 0, dates or {}
    dtype = dtype | dict.fromkeys(dates, "str")
    text = dict.fromkeys([c for c, d in dtype.items() if d == "str"], "str")
    options = {
        "sep": src.delimiter,
        "usecols": list(usecols) if usecols else None,
        "dtype": {c: _TEXT if d == "str" else d for c, d in dtype.items()} or None,
        "na_values": list(src.nas) or None,
    }
    with _errors(path):
        try:
            with pd.read_csv(path, **options, low_memory=False, chunksize=k) as reader:
                while True:
                    with np.errstate(invalid="ignore"):  # int64 given for "inf" warns, then fails
                        chunk = next(reader, None)
                    if chunk is None:
                        break
                    if chunk.empty:  # a header-only file: pandas' empty frame is built apart
                        continue
                    chunk = chunk.astype(text) if text else chunk
                    for c, fmt in dates.items():
                        chunk[c] = _dates(chunk[c], fmt)
                    yield start, chunk
                    start += len(chunk)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            raise
        except ValueError as exc:  # a value that does not fit a dtype given in `dtypes`
            raise _bad_value(src, forced or {}, k, start, exc) from None


@contextmanager
def _errors(path: str) -> Iterator[None]:
    """pandas' reading errors as DataErrors, with physical line numbers."""
    try:
        yield
    except UnicodeDecodeError:
        data = Path(path).read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError("the file is not UTF-8 text", line=data.count(b"\n", 0, exc.start) + 1) from None
        raise DataError("the file is not UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty: no header line", line=1) from None
    except pd.errors.ParserError as exc:
        message = str(exc).removeprefix("Error tokenizing data. C error: ").strip()
        if m := _EXPECTED.search(message):
            fields = f"line has {m[3]} fields but the header has {m[1]}"
            raise DataError(fields, line=_line(path, record=int(m[2]) - 1)) from None
        line = _line(path, record=int(m[1])) if (m := _EOF_ROW.search(message)) else None
        raise DataError(f"cannot parse the file: {message}", line=line) from None
    except OSError as exc:
        raise DataError(f"cannot read '{path}': {exc.strerror or exc}") from None


def _bad_value(src: _Source, forced: dict[str, Any], k: int, start: int, exc: Exception) -> DataError:
    """The first value of the failing chunk that does not fit its dtype, found on the text."""
    found: list[tuple[int, str, str]] = []
    cols = [c for c, d in forced.items() if d in ("int64", "float64", "bool")]
    for first, chunk in _chunks(src, cols, dict.fromkeys(cols, "str"), k) if cols else ():
        if first != start:
            continue
        for c in cols:
            text = chunk[c].reset_index(drop=True)
            number = pd.to_numeric(text, errors="coerce")
            bad = {
                "int64": text.isna() | number.isna() | (number % 1 != 0),
                "float64": text.notna() & number.isna(),
                "bool": ~text.str.lower().isin(("true", "false")),  # pandas ignores case
            }[forced[c]].to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                found.append((row, c, "a missing value" if pd.isna(text[row]) else repr(text[row])))
        break
    if not found:
        return DataError(f"a value does not fit the dtype given in `dtypes`: {exc}")
    row, column, value = min(found)
    advice = "float64" if forced[column] == "int64" else "string"
    message = f"{value} does not fit {forced[column]}: set the column's dtype to {advice!r} in `dtypes`"
    return DataError(message, column=column, line=_line(src.path, row=start + row))


def _header(path: str, delimiter: str) -> tuple[list[str], dict[str, str]]:
    """pandas' column names (a repeated name becomes "a.1") and the raw header name of each."""
    with _errors(path):
        names = [str(c) for c in pd.read_csv(path, sep=delimiter, nrows=0).columns]
        first = pd.read_csv(path, sep=delimiter, header=None, nrows=1, dtype=str, keep_default_na=False)
    raw = [str(v) for v in first.iloc[0]] if first.shape == (1, len(names)) else names
    return names, {n: r or n for n, r in zip(names, raw, strict=True)}


def _require(wanted: Iterable[str], names: Sequence[str], param: str) -> None:
    for name in wanted:
        if name not in names:
            raise DataError(
                f"{param} names a column not in the header{_suggest(name, names)}", column=name, line=1
            )


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _line(path: str, *, record: int | None = None, row: int | None = None) -> int | None:
    """Physical line (1-based) of pandas' record number (0-based, header and blank lines counted) or of
    data row `row`. A newline after an odd number of '"' is inside a quoted field. Only for errors."""
    if os.path.getsize(path) == 0:
        return None
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    newlines = np.flatnonzero(buf == 10)
    quoted = np.searchsorted(np.flatnonzero(buf == 34), newlines) % 2 == 1
    starts = np.concatenate([[0], newlines[~quoted] + 1])
    starts = starts[starts < len(buf)]
    lines = np.searchsorted(newlines, starts) + 1
    if row is not None:  # pandas skips blank lines; the header is the first record
        first, second = buf[starts], buf[np.minimum(starts + 1, len(buf) - 1)]
        blank = (first == 10) | ((first == 13) & (second == 10))
        lines, record = lines[~blank], row + 1
    return int(lines[record]) if record is not None and 0 <= record < len(lines) else None
