"""`source.csv`: read a CSV file in byte-range blocks, with the column types pandas infers over the whole file.

The driver cuts the data lines into blocks of ~16 MB at record boundaries (`csv_blocks`: a newline outside
quotes). Pass 1 (`scan_block`, one task per block) reads a block with pandas' C reader, keeps no data, and
notes what its inferred dtypes say; `plan_from_scans` unifies the blocks into the dtype `pd.read_csv` infers
for the whole column. Pass 2 (`read_block`, one task per block) re-reads each block with those dtypes forced
(so "007" in a text column stays "007"). Where blocks cannot tell what pandas would do, planning fails
naming the column and line and suggesting `dtypes`. `scan_csv` and `read_csv_chunks` run the same passes
one block after another.

Scans parse with every dtype given where the block's first lines hint them and the values prove that
inference agrees (`_hinted`: pandas then parses in cache-sized chunks). `read_speculative` does both passes
in one parse for the executor: the frame `read_block` gives if the whole file's plan is the block's own,
kept where `Speculation.fits` that plan (in a typical file, every block), else the block is read again.
"""

from __future__ import annotations

import difflib
import io
import mmap
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas._libs.parsers import STR_NA_VALUES  # pandas' default missing tokens
from pandas._libs.tslib import first_non_null  # the value pandas guesses a date format from

from ..errors import DataError
from .textclass import string_bytes

__all__ = [
    "FORMAT_DTYPES",
    "BlockScan",
    "CsvBlock",
    "CsvPlan",
    "CsvSource",
    "Speculation",
    "csv_blocks",
    "default_chunk_rows",
    "plan_from_scans",
    "read_block",
    "read_csv_chunks",
    "read_speculative",
    "scan_block",
    "scan_csv",
]

# Format dtype names -> the `dtype=` read_csv takes for them; "datetime" goes through parse_dates.
FORMAT_DTYPES: dict[str, str | None] = dict(
    int64="int64", float64="float64", string="str", bool="bool", datetime=None, category="category"
)
# 16 MB of text per block: measured as fast as 4-32 MB here, and cache-friendlier than larger blocks.
TARGET_CHUNK_BYTES = 16 * 2**20
MIN_CHUNK_ROWS = 1000
_SAMPLE_BYTES = 2**20
# Bytes read past a block's target to find the record end (doubled while a record is longer).
_LOOKAHEAD = 2**16
_UNITS = ("s", "ms", "us", "ns")
_EXPECTED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_ROW = re.compile(r"starting at row (\d+)")
_BOM = b"\xef\xbb\xbf"
# the bytes of an integer as inference reads one ([ \t]*[+-]?[0-9]+[ \t]*), and its blanks
_INT_BYTES = np.isin(np.arange(256), list(b"0123456789+- \t"))
_BLANK_BYTES = np.isin(np.arange(256), list(b" \t"))
_QUOTE, _NL, _CR = ord('"'), ord("\n"), ord("\r")
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)  # not on Windows
# Text is read as Arrow strings, then cast (without a copy) to pandas' "str": the same values, 4x
# faster than read_csv's dtype="str", which goes through Python objects.
_TEXT = pd.ArrowDtype(pa.large_string())


@dataclass(frozen=True, eq=False)
class CsvSource:
    """The resolved options, shared by every block of one file."""

    path: str  # the file, as given
    delimiter: str  # one character
    columns: tuple[str, ...]  # output columns, in output order
    usecols: tuple[str, ...] | None  # read_csv's usecols (None: every column, as pandas then checks widths)
    na_values: tuple[str, ...]  # missing tokens on top of pandas' defaults
    user: dict[str, str]  # the format dtype asked for each column (parse_dates as "datetime")
    names: tuple[str, ...]  # the header's names as pandas makes them ("a", "a.1"): blocks have no header
    data_start: int  # byte offset of the data part: after blank lines and the header line
    data_line: int  # its physical line (1-based)
    target: int  # bytes per block
    chunk_rows: int  # rows per block asked for, or what ~16 MB holds


@dataclass(frozen=True, eq=False)
class CsvBlock:
    """One byte range of data lines; small and picklable, so that a task anywhere can read it."""

    source: CsvSource
    number: int  # position among the file's blocks
    offset: int  # byte offset of its first line (a record start)
    length: int  # bytes, ending after a newline (or at the end of the file)
    line: int  # physical line number of its first line, for error messages


@dataclass(eq=False)
class BlockScan:
    """Pass 1's findings on one block: no data, only what whole-file inference needs."""

    block: CsvBlock
    rows: int = 0
    kinds: dict[str, str] = field(default_factory=dict)  # inferred column -> unification class here
    loose: dict[str, dict[str, Any]] = field(default_factory=dict)  # numeric na_values seen, rows in block
    seen: dict[str, pd.Index] = field(default_factory=dict)  # category column -> distinct texts
    dates: dict[str, _DateScan] = field(default_factory=dict)  # date column -> its parse here
    formats: dict[str, str | None] = field(default_factory=dict)  # date format guessed here (None: none)
    wide: int = 0  # fields on the first data line when more than the header's
    # columns read as int64, float64 or bool -> whether their values here are "bool" tokens or "number"s
    # (pandas reads a column of either, not a mix), with the first one's row and text
    tokens: dict[str, tuple[str, int, str]] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class CsvPlan:
    """What pass 2 needs, found by pass 1; picklable, so any worker can read its blocks."""

    source: CsvSource
    read_dtypes: dict[str, Any]  # pass 2's dtype=; a column not here is inferred per block, then cast
    dtypes: dict[str, Any]  # each output column's pandas dtype: what one pd.read_csv gives
    date_formats: dict[str, str | None]  # columns parsed as dates, with the format pandas guesses
    rows: int  # data rows in the file
    starts: tuple[int, ...]  # first row of each scanned block
    # date columns -> the blocks whose own first value gives pandas another format guess than the file's
    apart: dict[str, frozenset[int]]

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def columns(self) -> tuple[str, ...]:
        return self.source.columns

    @property
    def chunk_rows(self) -> int:
        return self.source.chunk_rows


def default_chunk_rows(path: str | os.PathLike[str]) -> int:
    """~16 MB of text per chunk, from the bytes per row of the file's first MB; never from workers."""
    return max(MIN_CHUNK_ROWS, int(TARGET_CHUNK_BYTES // _bytes_per_row(os.fspath(path))))


# ------------------------------------------------------------------------------------------ passes


def csv_blocks(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = ",",
    columns: Sequence[str] | None = None,
    dtypes: dict[str, str] | None = None,
    parse_dates: Sequence[str] | None = None,
    na_values: Sequence[str] | None = None,
    chunk_rows: int | None = None,
    lazy: bool = False,
) -> list[CsvBlock] | Iterator[CsvBlock]:
    """Checks the options against the header and cuts the data lines into blocks of ~16 MB (or about
    `chunk_rows` rows) at record boundaries. Cheap: one pass of byte counting, no parsing. `lazy`
    checks now and cuts as the blocks are taken."""
    path, delimiter, nas = os.fspath(path), delimiter or ",", tuple(na_values or ())
    if len(delimiter) != 1:
        raise DataError(f"delimiter must be one character, not {delimiter!r}")
    if chunk_rows is not None and chunk_rows < 1:
        raise DataError(f"chunk_rows must be at least 1, not {chunk_rows}")
    if not os.path.isfile(path):
        raise DataError(f"file not found: '{path}'")
    names, selected, user = _resolve(path, delimiter, columns, dtypes or {}, parse_dates or ())
    start, line = _data_start(path, delimiter)
    per_row = _bytes_per_row(path)
    k = chunk_rows or max(MIN_CHUNK_ROWS, int(TARGET_CHUNK_BYTES // per_row))
    target = TARGET_CHUNK_BYTES if chunk_rows is None else max(1, int(chunk_rows * per_row))
    usecols = tuple(selected) if columns is not None else None
    source = CsvSource(
        path, delimiter, tuple(selected), usecols, nas, user, tuple(names), start, line, target, k
    )
    return _cuts(source) if lazy else _cut(source)


def scan_block(block: CsvBlock) -> BlockScan:
    """Pass 1 on one block: each column's inferred kind, category texts, date parse, row count. Raises
    DataError (column, physical line) for values that do not fit `dtypes` and for malformed lines."""
    return _scan(block, _text(block))[0]


def _scan(block: CsvBlock, text: _Text) -> tuple[BlockScan, pd.DataFrame | None]:
    """Pass 1's findings and the frame they come from (None where there is none to keep)."""
    src = block.source
    forced, cats, dates = _forced(src), _user(src, "category"), _user(src, "datetime")
    scan = BlockScan(block, wide=_wide(text, src))
    if scan.wide and src.usecols is None:  # the planner says which error this is
        return scan, None
    guesses = _guesses(text, src, dates)  # each date column parsed as pandas would parse this block
    inferred = [c for c in src.columns if c not in src.user]
    given = forced | dict.fromkeys(cats, "str")
    frame, kinds = _hinted(text, src, given, guesses, inferred)
    if frame is None:
        frame = _parse(text, src, given, guesses, forced, guesses=guesses)
    if frame.empty:
        return scan, None
    tokens = pd.Index([*STR_NA_VALUES, *src.na_values], dtype="str")
    numbers = _numbers(src.na_values)  # pandas also drops values equal to these, in some paths only
    for c in inferred:
        scan.kinds[c] = kinds[c] if kinds else _kind(frame[c], tokens)
        if numbers and frame[c].dtype.kind in "if":
            _watch(frame[c], numbers, scan.loose.setdefault(c, {}))
    for c in cats:
        scan.seen[c] = pd.Index(frame[c].dropna().unique(), dtype="str")
    for c in dates:  # the planner parses again the blocks whose guess differs from the file's
        scan.formats[c] = guesses[c]
        scan.dates[c] = _DateScan(frame[c])
    scan.tokens = _tokens(text, src, frame, forced)
    scan.rows = len(frame)
    return scan, frame


@dataclass(eq=False)
class Speculation:
    """One parse of a block standing for both passes: its scan, and the plan the block alone gives.
    `read_block` under the whole file's plan gives the same frame when that plan agrees with it."""

    scan: BlockScan
    start: int  # the block's first row, if every line before it is one data row (no blank lines,
    # no newlines in quoted fields): the cutter counted them
    alone: tuple[dict[str, Any], dict[str, Any], dict[str, str | None]] | None  # None: nothing kept

    def fits(self, plan: CsvPlan) -> bool:
        """Whether `read_block(block, plan)` is the speculated frame: same dtypes read and given, same
        date formats, the block's own date guesses, and the row positions guessed."""
        n = self.scan.block.number
        return (
            self.alone is not None
            and plan.starts[n] == self.start
            and (plan.read_dtypes, plan.dtypes, plan.date_formats) == self.alone
            and not any(n in blocks for blocks in plan.apart.values())
        )


def read_speculative(block: CsvBlock) -> tuple[pd.DataFrame | None, Speculation]:
    """Both passes in one parse, for the common case: the frame `read_block` gives under the plan of
    this block alone, and its scan. The driver keeps the frame only where `Speculation.fits` the whole
    file's plan; else (None here: an empty block, categories, a block pandas would read otherwise
    alone) the block is read again with `read_block`. Raises what `scan_block` raises."""
    src = block.source
    scan, frame = _scan(block, _text(block))
    speculation = Speculation(scan, block.line - src.data_line, None)
    if frame is None or _user(src, "category"):  # categories come from the whole file
        return None, speculation
    try:
        alone = plan_from_scans([scan])
        for c in alone.columns:  # as `_load`: dates in the block's unit, bools with missing values
            if (c not in alone.read_dtypes or c in alone.date_formats) and frame[c].dtype != alone.dtypes[c]:
                frame[c] = _cast(frame[c], alone.dtypes[c])
    except Exception:  # never the read's error: the block is then read again
        return None, speculation
    order = list(alone.columns)
    frame = frame if list(frame.columns) == order else frame[order]
    if any(frame[c].dtype != alone.dtypes[c] for c in order):  # e.g. dates pandas fails to parse
        return None, speculation
    frame.index = pd.RangeIndex(speculation.start, speculation.start + len(frame))
    speculation.alone = (alone.read_dtypes, alone.dtypes, alone.date_formats)
    return frame, speculation


def plan_from_scans(scans: Sequence[BlockScan]) -> CsvPlan:
    """Unifies the blocks' findings, in file order, into the dtypes one `pd.read_csv` gives, and numbers
    each block's first row. Raises DataError where blocks cannot tell what pandas would infer."""
    src = scans[0].block.source
    forced, cats, dates = _forced(src), _user(src, "category"), _user(src, "datetime")
    inferred = [c for c in src.columns if c not in src.user]
    kinds = _unified_kinds(scans, inferred)
    starts = tuple(np.cumsum([0, *(s.rows for s in scans)])[:-1].tolist())
    rows = sum(s.rows for s in scans)

    read: dict[str, Any] = forced | dict.fromkeys(cats, "str")
    final: dict[str, Any] = {c: pd.api.types.pandas_dtype(t) for c, t in forced.items()}
    for c in inferred:
        kind = _unify(kinds[c])
        final[c] = np.dtype(object) if kind == "object" else pd.api.types.pandas_dtype(kind)
        hits = [(i, s.loose[c]) for i, s in enumerate(scans) if "row" in s.loose.get(c, {})]
        fraction = any(s.loose.get(c, {}).get("fraction") for s in scans)
        if kind == "float64" and hits and not fraction:
            i, hit = hits[0]
            raise DataError(
                f"{hit['value']!r} equals a missing-value token only as a number, and whether pandas "
                "reads it as missing depends on the whole column: write it as in na_values, or give dtypes",
                column=c,
                line=_row_line(_text(scans[i].block), hit["row"]),
            )
        if kind != "object":  # bools with missing values are inferred per block, then cast to object
            read[c] = kind
    for c in cats:
        seen = pd.Index([], dtype="str").append([s.seen[c] for s in scans if c in s.seen]).unique()
        read[c] = final[c] = _categories(seen, src.na_values)
    formats = _whole_file_dates(scans, dates, final)
    for c in dates:
        if final[c].kind != "M":  # some value does not fit pandas' format: it keeps the text
            read[c] = "str"
            del formats[c]
    if rows == 0:  # header only: take pandas' own empty frame
        options = {"usecols": src.usecols, "dtype": forced | dict.fromkeys(cats, "category")}
        with _errors(lambda: _whole_file(src.path, src.delimiter), src.path):
            empty = pd.read_csv(
                src.path,
                sep=src.delimiter,
                na_values=list(src.na_values) or None,
                parse_dates=dates,
                **options,
            )
        final = dict(empty.dtypes.items())
    dtypes_out = {c: final[c] for c in src.columns}
    apart = {c: frozenset(s.block.number for s in scans if s.formats.get(c) != formats[c]) for c in formats}
    return CsvPlan(src, read, dtypes_out, formats, rows, starts, apart)


def read_block(block: CsvBlock, plan: CsvPlan) -> pd.DataFrame:
    """Pass 2 on one of the blocks pass 1 scanned: its rows with the plan's dtypes, indexed by global row
    position."""
    frame = _load(block, plan, scanned=True)
    start = plan.starts[block.number]
    stop = plan.starts[block.number + 1] if block.number + 1 < len(plan.starts) else plan.rows
    if len(frame) != stop - start:
        raise DataError("the file changed while it was being read: run again", line=block.line)
    frame.index = pd.RangeIndex(start, stop)
    return frame


def scan_csv(path: str | os.PathLike[str], **options: Any) -> CsvPlan:
    """Pass 1 over the whole file, block by block (`csv_blocks` takes the options). Raises DataError for
    problems, the first in file order."""
    scans: list[BlockScan] = []
    for block in csv_blocks(path, **options):
        try:
            scans.append(scan_block(block))
        except DataError:
            if scans:  # a problem in an earlier block comes first
                plan_from_scans(scans)
            raise
    return plan_from_scans(scans)


def read_csv_chunks(plan: CsvPlan, *, chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """Pass 2, block by block, indexed by global row position (a RangeIndex); with `chunk_rows`, the file
    is cut again into blocks of about that many rows (the plan's dtypes hold for any cut)."""
    if chunk_rows is not None and chunk_rows < 1:
        raise DataError(f"chunk_rows must be at least 1, not {chunk_rows}")
    src = plan.source
    if chunk_rows is not None:
        src = replace(src, target=max(1, int(chunk_rows * _bytes_per_row(src.path))), chunk_rows=chunk_rows)
    start = 0
    for block in _cut(src):
        frame = _load(block, plan, scanned=chunk_rows is None)
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield frame


def _load(block: CsvBlock, plan: CsvPlan, *, scanned: bool) -> pd.DataFrame:
    """A block's frame; `scanned`: one of the blocks pass 1 checked (first lines, date format guesses)."""
    src, order = block.source, list(plan.columns)
    text = _text(block)
    if not scanned and src.usecols is None and (fields := _wide(text, src)):
        raise DataError(
            f"line has {fields} fields but the header has {len(src.names)}", line=_row_line(text, 0)
        )
    guesses = None
    if scanned:  # as pass 1 found them: pandas' guess from this block, where it is the file's format
        guesses = {c: None if block.number in plan.apart[c] else f for c, f in plan.date_formats.items()}
    frame = _parse(text, src, plan.read_dtypes, plan.date_formats, _forced(src), guesses=guesses)
    if frame.empty:
        return pd.DataFrame({c: pd.Series([], dtype=plan.dtypes[c]) for c in order})
    for c in order:  # dates in each block's unit, and bools with missing values, to the plan's dtype
        if (c not in plan.read_dtypes or c in plan.date_formats) and frame[c].dtype != plan.dtypes[c]:
            frame[c] = _cast(frame[c], plan.dtypes[c])
    return frame if list(frame.columns) == order else frame[order]


# ------------------------------------------------------------------------------------- inference


def _resolve(
    path: str,
    delimiter: str,
    columns: Sequence[str] | None,
    dtypes: dict[str, str],
    parse_dates: Sequence[str],
) -> tuple[list[str], list[str], dict[str, str]]:
    """The header's names, the output columns, and the format dtype asked for each (parse_dates become
    "datetime")."""
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
    return names, selected, user


def _forced(src: CsvSource) -> dict[str, Any]:
    """read_csv's dtype for the columns whose `dtypes` it reads directly."""
    return {c: FORMAT_DTYPES[t] for c, t in src.user.items() if t not in ("datetime", "category")}


def _user(src: CsvSource, dtype: str) -> list[str]:
    return [c for c, t in src.user.items() if t == dtype]


def _unified_kinds(scans: Sequence[BlockScan], inferred: list[str]) -> dict[str, set[str]]:
    """Each inferred column's kinds over the blocks, checked in file order with the first data line's
    width and the bool or number tokens of columns read as such: the first problem raises, naming the
    line where the blocks start to disagree."""
    kinds: dict[str, set[str]] = {c: set() for c in inferred}
    tokens: dict[str, set[str]] = {}
    for scan in scans:
        for c, (kind, _, _) in scan.tokens.items():
            tokens.setdefault(c, set()).add(kind)
    mixed = {c for c, found in tokens.items() if len(found) > 1}
    data_seen = False
    for scan in scans:
        src = scan.block.source
        if scan.wide and (not data_seen or src.usecols is None):
            # pandas would take the first data line's extra fields as an index (shifting every column)
            message = (
                f"line has {scan.wide} fields but the header has {len(src.names)}"
                if data_seen
                else "the first data line has more fields than the header"
            )
            raise DataError(message, line=_row_line(_text(scan.block), 0))
        data_seen = data_seen or bool(scan.rows or scan.wide)
        _check_tokens(scan, mixed)
        for c in inferred:
            if c not in scan.kinds:
                continue
            kinds[c].add(scan.kinds[c])
            if _unify(kinds[c]) is None:
                raise DataError(
                    f"pandas' type for this column depends on the whole file ({sorted(kinds[c])} in chunks); "
                    'set it with the `dtypes` param ("string" or "float64")',
                    column=c,
                    line=_row_line(_text(scan.block), 0),
                )
    return kinds


def _tokens(
    text: _Text, src: CsvSource, frame: pd.DataFrame, forced: dict[str, Any]
) -> dict[str, tuple[str, int, str]]:
    """For each column read as int64, float64 or bool: whether this block holds bool tokens or numbers.
    Only a column of 0s and 1s (or a bool one) can be either: its first value's text tells."""
    found: dict[str, tuple[str, int, str]] = {}
    todo = []
    for c, d in forced.items():
        values = frame[c].dropna()
        if d in ("int64", "float64") and len(values):
            if values.isin([0, 1]).all():
                todo.append(c)
            else:
                found[c] = ("number", -1, "")
        elif d == "bool":
            todo.append(c)
    if todo:
        head = _first_lines(text, src, todo)
        rest = [c for c in todo if head is None or head[c].isna().all()]
        whole = _parse(text, src, dict.fromkeys(rest, "str"), {}, {}, usecols=rest) if rest else None
        for c in todo:
            table = whole if c in rest else head
            if table is not None and (row := table[c].first_valid_index()) is not None:
                value = str(table[c][row])
                found[c] = ("bool" if value.lower() in ("true", "false") else "number", int(row), value)
    return found


def _check_tokens(scan: BlockScan, mixed: set[str]) -> None:
    """A column read as int64 or float64 takes bool tokens only where all its values are such (and a
    bool one takes numbers likewise): blocks of each kind in one file fail, as in one pd.read_csv."""
    forced = _forced(scan.block.source)
    for c, (kind, row, value) in scan.tokens.items():
        if c in mixed and kind == ("number" if forced[c] == "bool" else "bool"):
            message = f"{value!r} does not fit {forced[c]}: set the column's dtype to 'string' in `dtypes`"
            raise DataError(message, column=c, line=_row_line(_text(scan.block), row))


def _kind(col: pd.Series, tokens: pd.Index) -> str:
    """One block's inferred dtype as a unification class."""
    dt = col.dtype
    if dt.kind == "f":
        return "na" if col.isna().all() else "float"
    if dt.kind == "i":
        return "neg" if col.min() < 0 else "int"
    if dt.kind in "ub":
        return {"u": "uint", "b": "bool"}[dt.kind]
    if isinstance(dt, pd.StringDtype):
        # Integers beyond int64 with missing values: pandas keeps the missing tokens as text (GH#14983).
        # Such a block holds only those two; its first value tells whether to look further.
        head = col.iloc[:1]
        suspect = head.isin(tokens).any() or head.str.fullmatch(r"\s*[+-]?\d+\s*").any()
        return "other" if suspect and col.isin(tokens).any() else "str"
    return "boolna" if pd.api.types.infer_dtype(col, skipna=True) == "boolean" else "other"


def _unify(kinds: set[str]) -> str | None:
    """The dtype pandas infers for a column whose blocks have these kinds; None when it cannot tell."""
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
    """One date column in some blocks: each block's unit and zone, their range, or that pandas' parse
    failed. Small, so it crosses process boundaries with the scan."""

    def __init__(self, parsed: pd.Series | None = None) -> None:
        self.failed = False
        self.units: set[str] = set()
        self.zones: set[Any] = set()
        self.bounds: list[pd.Timestamp] = []
        if parsed is None:
            return
        if parsed.dtype.kind != "M":
            self.failed = True  # pandas then leaves the whole column as text
        elif parsed.notna().any():  # all-missing blocks come back in seconds
            self.units.add(parsed.dt.unit)
            self.zones.add(parsed.dt.tz)
            self.bounds += [parsed.min(), parsed.max()]

    def merge(self, other: _DateScan) -> None:
        self.failed |= other.failed
        self.units |= other.units
        self.zones |= other.zones
        self.bounds += other.bounds

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


def _whole_file_dates(
    scans: Sequence[BlockScan], dates: list[str], final: dict[str, Any]
) -> dict[str, str | None]:
    """pandas guesses a date column's format from its first non-null value (None: all missing; "mixed":
    no guess, each value parsed with dateutil). Blocks guessed from their own first value; one whose guess
    differs from the file's is parsed again here with the file's format (rare: the format changes)."""
    formats: dict[str, str | None] = {}
    for c in dates:
        guesses = [s.formats[c] for s in scans if s.formats.get(c) is not None]
        formats[c] = guesses[0] if guesses else None
        total = _DateScan()
        for scan in scans:
            if c not in scan.dates:
                continue
            if scan.formats[c] not in (None, formats[c]):
                text, guess = _text(scan.block), {c: scan.formats[c]}
                frame = _parse(text, scan.block.source, {}, {c: formats[c]}, {}, usecols=[c], guesses=guess)
                total.merge(_DateScan(frame[c]))
            else:
                total.merge(scan.dates[c])
        final[c] = total.dtype()
    return formats


def _guess_format(text: pd.Series) -> str | None:
    """The format pandas guesses from the block's first non-null value (looked for in a head first)."""
    for values in (text.iloc[:n].to_numpy(dtype=object) for n in (1000, None)):
        if (first := int(first_non_null(values))) >= 0:
            return pd.tseries.api.guess_datetime_format(values[first]) or "mixed"
    return None


def _dates(text: pd.Series, fmt: str | None) -> pd.Series:
    """pandas' parse_dates of one block; a failed parse leaves the text, as pandas does."""
    try:
        return pd.Series(pd.to_datetime(text.to_numpy(dtype=object), format=fmt), index=text.index)
    except (ValueError, TypeError):
        return text


def _watch(values: pd.Series, numbers: list[float], seen: dict[str, Any]) -> None:
    """Notes the first value equal to a numeric na_value (kept by pandas' int parse, dropped by its
    float parse, which it takes when the column has a fraction), and whether a fraction was seen."""
    if "row" not in seen and (hit := values.isin(numbers).to_numpy()).any():
        seen["row"], seen["value"] = int(np.argmax(hit)), values.iloc[int(np.argmax(hit))]
    seen["fraction"] = seen.get("fraction") or bool((values % 1).fillna(0).ne(0).any())


def _numbers(values: Iterable[str]) -> list[float]:
    """The na_values that are numbers, as pandas finds them."""
    found = []
    for value in values:
        with suppress(TypeError, ValueError, OverflowError):
            found.append(float(value))
    return [v for v in found if not np.isnan(v)]


def _cast(values: pd.Series, dtype: Any) -> pd.Series:
    if values.isna().all():  # all-missing blocks come back in another unit or zone, or as float
        return pd.Series(pd.NaT if dtype.kind == "M" else np.nan, index=values.index, dtype=dtype)
    return values.astype(dtype)


def _categories(values: pd.Index, nas: Sequence[str]) -> pd.CategoricalDtype:
    """pandas' categories for the whole file: its own category read of the distinct texts."""
    buf = io.StringIO()  # a second column, so that no line is blank (" " would be skipped)
    pd.DataFrame({"c": values, "_": 0}).to_csv(buf, index=False)
    buf.seek(0)
    return pd.read_csv(buf, dtype={"c": "category"}, na_values=list(nas) or None)["c"].dtype


# ------------------------------------------------------------------------------------------ cutting


def _bytes_per_row(path: str) -> float:
    """Bytes per line of the file's first MB."""
    try:
        with open(path, "rb") as f:
            sample = f.read(_SAMPLE_BYTES)
    except OSError as exc:
        raise DataError(f"cannot read '{path}': {exc.strerror or exc}") from None
    return max(len(sample) / max(sample.count(b"\n"), 1), 1.0)


def _data_start(path: str, delimiter: str) -> tuple[int, int]:
    """Byte offset and physical line where the data lines start: after blank lines and the header record,
    as pandas' tokenizer reads them. Reads only the file's start."""
    size, n = os.path.getsize(path), 2**16
    with open(path, "rb") as f:
        while True:
            f.seek(0)
            buf = f.read(n)
            end = _header_end(buf, ord(delimiter), eof=len(buf) >= size)
            if end is not None:
                return end, buf.count(b"\n", 0, end) + 1
            n *= 4


def _header_end(buf: bytes, delimiter: int, *, eof: bool) -> int | None:
    """End of the first non-blank record in `buf`; None when `buf` ends before it does. The header is
    short, so this walks it byte by byte with the tokenizer's rules."""
    i, blank = (3 if buf.startswith(_BOM) else 0), b" \t".replace(bytes([delimiter]), b"")
    while True:  # blank and whitespace-only lines before the header are skipped
        j = i
        while j < len(buf) and buf[j] in blank:
            j += 1
        if j < len(buf) and buf[j] in (_NL, _CR):
            i = j + (2 if buf[j : j + 2] == b"\r\n" else 1)
            continue
        break
    state = "start"  # of a field; "field", "quoted", "quote" (a '"' inside a quoted field)
    while i < len(buf):
        c = buf[i]
        if state == "quoted":
            state = "quote" if c == _QUOTE else state
        elif c == _QUOTE and state in ("start", "quote"):
            state = "quoted"
        elif c in (_NL, _CR):
            if c == _CR and i + 1 == len(buf) and not eof:
                return None
            return i + (2 if buf[i : i + 2] == b"\r\n" else 1)
        else:
            state = "start" if c == delimiter else "field"
        i += 1
    return len(buf) if eof else None


def _cut(src: CsvSource) -> list[CsvBlock]:
    return list(_cuts(src))


def _cuts(src: CsvSource) -> Iterator[CsvBlock]:
    """Blocks of ~`src.target` bytes of data lines, each ending after a newline outside quotes, cut
    as they are asked for (the first block's task starts before the last block is found). The file
    is mapped, not read: each byte scan reads its pages once, with no copy."""
    offset, line, index, released = src.data_start, src.data_line, 0, 0
    mapped = None
    try:
        size = os.path.getsize(src.path)
        if size > offset:
            with open(src.path, "rb") as f:
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        buf = np.frombuffer(mapped, dtype=np.uint8) if mapped is not None else np.zeros(0, np.uint8)
    except OSError as exc:
        raise DataError(f"cannot read '{src.path}': {exc.strerror or exc}") from None
    while True:
        cut = _next_cut(buf, offset, src.target, ord(src.delimiter))
        end, lines = cut if cut is not None else (size, 0)
        yield CsvBlock(src, index, offset, end - offset, line)
        offset, line, index = end, line + lines, index + 1
        if offset >= size:
            return
        behind = offset // mmap.PAGESIZE * mmap.PAGESIZE
        if mapped is not None and behind > released and _DONTNEED is not None:
            # the pages already cut leave this process (they stay in the page cache): the mapping
            # would otherwise count the whole file against the run's memory by its last block
            mapped.madvise(_DONTNEED, released, behind - released)
            released = behind


def _next_cut(buf: np.ndarray, start: int, target: int, delimiter: int) -> tuple[int, int] | None:
    """(end, newlines) of the block starting at `start`: the first record end at least `target` bytes on;
    None when the rest of the file is one block."""
    lookahead = max(256, min(_LOOKAHEAD, target))
    while True:
        arr = buf[start : start + target + lookahead]
        if len(arr) < target:
            return None
        newlines = target - 1 + np.flatnonzero(arr[target - 1 :] == _NL)
        outside = newlines[~_quoted(arr, newlines, delimiter)]
        if len(outside):
            end = int(outside[0]) + 1
            return start + end, int(np.count_nonzero(arr[:end] == _NL))
        if start + len(arr) >= len(buf):
            return None
        lookahead *= 4


def _quoted(arr: np.ndarray, at: np.ndarray, delimiter: int) -> np.ndarray:
    """Whether each position `at` of text that starts at a record start is inside a quoted field, as
    pandas' tokenizer reads it. A run of k adjacent quotes entered inside a quoted field leaves it when k
    is odd (a doubled '""' is a quote character). Entered outside, a run at a field's start opens a field
    and then acts as k-1 quotes inside it: it toggles the state when k is odd; a run elsewhere is text
    (a '"' inside an unquoted field). So an odd run at a field's start toggles, an odd run elsewhere
    closes whatever is open, and an even run changes nothing: the state at a position is the parity of
    the toggling runs since the last closing one. Exact for any quoting, in bytes operations only."""
    quotes = np.flatnonzero(arr == _QUOTE)
    if not len(quotes):
        return np.zeros(len(at), dtype=bool)
    first = np.flatnonzero(np.diff(quotes, prepend=-2) != 1)  # each run's first quote
    runs = quotes[first]
    odd = np.diff(first, append=len(quotes)) % 2 == 1
    at_start = np.isin(arr[np.maximum(runs - 1, 0)], (delimiter, _NL, _CR)) | (runs == 0)
    if arr[:3].tobytes() == _BOM:
        at_start |= runs == 3
    toggles = np.cumsum(odd & at_start)
    closing = np.maximum.accumulate(np.where(odd & ~at_start, np.arange(len(runs)), -1))
    inside = (toggles - np.where(closing >= 0, toggles[closing], 0)) % 2 == 1
    last = np.searchsorted(runs, at) - 1  # the last run before each position
    return (last >= 0) & inside[np.maximum(last, 0)]


# ------------------------------------------------------------------------------------------ reading


class _Text(NamedTuple):
    """The bytes pandas parses: a block's lines (or the whole file, header first), for error lines."""

    data: bytes
    line: int  # physical line of data[0]
    delimiter: str
    header: bool  # the first non-blank record is the header

    def line_at(self, offset: int) -> int:
        return self.line + self.data.count(b"\n", 0, offset)


def _text(block: CsvBlock) -> _Text:
    src = block.source
    try:
        with open(src.path, "rb") as f:
            f.seek(block.offset)
            data = f.read(block.length)
    except OSError as exc:
        raise DataError(f"cannot read '{src.path}': {exc.strerror or exc}") from None
    return _Text(data, block.line, src.delimiter, header=False)


def _whole_file(path: str, delimiter: str) -> _Text:
    with open(path, "rb") as f:
        return _Text(f.read(), 1, delimiter, header=True)


def _parse(
    text: _Text,
    src: CsvSource,
    dtype: dict[str, Any],
    dates: dict[str, str | None],
    forced: dict[str, Any],
    usecols: Sequence[str] | None = None,
    guesses: dict[str, str | None] | None = None,
) -> pd.DataFrame:
    """One block from pandas' C reader, with "str" columns read fast and the `dates` columns parsed with
    the format given, as pandas does; its errors become DataErrors naming column and physical line."""
    usecols = usecols or src.usecols
    guesses = guesses if guesses is not None or not dates else _guesses(text, src, list(dates))
    # Where pandas would guess the same format from this block, its reader parses the dates itself
    # (in C, without the GIL); else the text is parsed here with the format given.
    fast = [c for c, fmt in dates.items() if fmt not in (None, "mixed") and (guesses or {}).get(c) == fmt]
    dtype = dtype | dict.fromkeys([c for c in dates if c not in fast], "str")
    used = list(usecols) if usecols else list(src.names)
    options = {
        "sep": src.delimiter,
        "header": None,  # a block has none: the file's names are given
        "names": list(src.names),
        "usecols": list(usecols) if usecols else None,
        "dtype": {c: _TEXT if d == "str" else d for c, d in dtype.items()} or None,
        "na_values": list(src.na_values) or None,
        "parse_dates": fast or None,
        # Where a column's type is inferred, the whole block at once: one inference, as pandas does
        # for a chunk of its own. Where every type is given, pandas' smaller internal chunks give the
        # same values and stay in cache: 45 ms instead of 85 ms for a 16 MB block.
        "low_memory": all(c in dtype or c in fast for c in used),
        "index_col": False,  # a wide first line is checked apart
    }
    with _errors(text):
        try:
            with np.errstate(invalid="ignore"):  # int64 given for "inf" warns, then fails
                frame = pd.read_csv(io.BytesIO(text.data), **options)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            raise
        except ValueError as exc:  # a value that does not fit a dtype given in `dtypes`
            raise _bad_value(text, src, forced, exc) from None
    if frame.empty:
        return frame
    text_columns = [c for c, d in dtype.items() if d == "str" and c in frame.columns]
    frame = frame.astype(dict.fromkeys(text_columns, "str")) if text_columns else frame
    for c, fmt in dates.items():
        if c not in fast:
            frame[c] = _dates(frame[c], fmt)
    return frame


# A character that pandas' int, float and bool parsers all refuse: a value holding one is text.
_TEXT_ONLY = r"[^0-9+\-. \t\r\naefilnrstuyAEFILNRSTUY]"


def _hinted(
    text: _Text, src: CsvSource, given: dict[str, Any], guesses: dict[str, str | None], inferred: list[str]
) -> tuple[pd.DataFrame | None, dict[str, str] | None]:
    """The block parsed with every inferred column's dtype given, as the block's first lines infer
    it, and each column's inferred kind, where the values prove that inference gives that dtype:
    int64 where every value is a plain run of digits (`_int64_text`), float64 with a missing value or
    a fraction (int64 then fails, float64 does not), text with a value no number or bool parser takes.
    With every dtype given pandas parses in cache-sized chunks: ~40% faster. (None, None) otherwise."""
    if _numbers(src.na_values):  # pandas' int and float parses treat these apart: infer
        return None, None
    hints = _head_dtypes(text, src, inferred)
    if hints is None:
        return None, None
    # int64 hints are read as text and checked: pandas' int64 parse also takes "0.0" (integral
    # floats), which inference reads as float64
    as_read = {c: "str" if h == "int64" else h for c, h in hints.items()}
    try:
        frame = _parse(text, src, given | as_read, guesses, {}, guesses=guesses)
    except DataError:
        return None, None
    if frame.empty:
        return frame, {}
    kinds: dict[str, str] = {}
    for c, hint in hints.items():
        col = frame[c]
        if hint == "int64":
            ints = _int64_text(col)
            if ints is None:
                return None, None
            frame[c] = ints
            kinds[c] = "neg" if len(ints) and ints.min() < 0 else "int"
        elif col.isna().all():
            return None, None
        elif hint == "float64" and _float_kind(col):
            kinds[c] = "float"
        elif hint == "str" and _text_kind(col):
            kinds[c] = "str"
        else:
            return None, None
    return frame, kinds


def _int64_text(col: pd.Series) -> pd.Series | None:
    """Text whose every value is an optionally signed run of ASCII digits within int64, as int64:
    what inference gives for it; None for anything else (a missing value, a decimal point, an
    exponent, a value beyond int64), which is then left to inference."""
    if col.isna().any():
        return None
    arr = pa.array(col.array)
    arr = (arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr).cast(pa.large_string())
    data = string_bytes(arr)[1] if len(arr) else np.zeros(0, np.uint8)
    if not _INT_BYTES[data].all():  # a byte table, not a regex: a fraction of the time
        return None
    if _BLANK_BYTES[data].any():
        arr = pc.utf8_trim(arr, " \t")
    try:
        # the cast itself refuses what is no integer with these bytes ("1-2", "- 1", "", "+1")
        values = pc.cast(arr, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pd.Series(values.to_numpy(), index=col.index, name=col.name)


def _float_kind(col: pd.Series) -> bool:
    """A float64 parse that inference gives too: a missing value or a fraction fails its int64 parse,
    and no value is beyond int64 (where pandas tries uint64, then may keep text)."""
    return bool(col.isna().any() or (col % 1 != 0).any()) and not col.abs().max() >= 2.0**63


def _text_kind(col: pd.Series) -> bool:
    """Text that inference gives too: some value no number or bool parser takes, and not the case
    where pandas keeps missing tokens as text (`_kind`: a first value that is an integer or missing)."""
    first = col.iloc[0]
    if (pd.isna(first) or re.fullmatch(r"\s*[+-]?\d+\s*", first)) and col.isna().any():
        return False
    return any(
        bool(part.str.contains(_TEXT_ONLY, regex=True).fillna(False).any()) for part in (col.iloc[:1000], col)
    )


def _head_dtypes(text: _Text, src: CsvSource, inferred: list[str]) -> dict[str, str] | None:
    """The dtype pandas infers for each of these columns from the block's first lines (64 KB), where
    it is int64, float64 or text for all of them; else None."""
    head = _head(text, src, inferred) if inferred else None
    if head is None:
        return None
    hints = {}
    for c in inferred:
        dtype = head[c].dtype
        if isinstance(dtype, pd.StringDtype):
            hints[c] = "str"
        elif dtype in (np.dtype("int64"), np.dtype("float64")):
            hints[c] = str(dtype)
        else:
            return None
    return hints


def _guesses(text: _Text, src: CsvSource, columns: list[str]) -> dict[str, str | None]:
    """The format pandas guesses for each date column of this block, from its first non-null value:
    looked for in the block's first lines, then in the whole block."""
    found: dict[str, str | None] = {}
    if not columns:
        return found
    if (head := _first_lines(text, src, columns)) is not None:
        found = {c: g for c in columns if (g := _guess_format(head[c])) is not None}
    if rest := [c for c in columns if c not in found]:
        whole = _parse(text, src, dict.fromkeys(rest, "str"), {}, {}, usecols=rest)
        found |= {c: _guess_format(whole[c]) if not whole.empty else None for c in rest}
    return {c: found[c] for c in columns}


def _first_lines(text: _Text, src: CsvSource, columns: list[str]) -> pd.DataFrame | None:
    """These columns of the block's first lines (64 KB), as text; None where those do not parse alone."""
    head = _head(text, src, columns, dict.fromkeys(columns, _TEXT))
    return None if head is None else head.astype(dict.fromkeys(columns, "str"))


def _head(
    text: _Text, src: CsvSource, columns: list[str], dtype: dict[str, Any] | None = None
) -> pd.DataFrame | None:
    """These columns of the block's whole first lines (up to 64 KB) as pandas reads them alone, with
    `dtype` given; None where there are none or they do not parse alone (the whole parse reports it)."""
    lines = text.data.rfind(b"\n", 0, _LOOKAHEAD) + 1
    if not lines:
        return None
    try:
        return pd.read_csv(
            io.BytesIO(text.data[:lines]),
            sep=src.delimiter,
            header=None,
            names=list(src.names),
            usecols=columns,
            dtype=dtype,
            na_values=list(src.na_values) or None,
            index_col=False,
        )
    except (ValueError, UnicodeDecodeError):
        return None


def _wide(text: _Text, src: CsvSource) -> int:
    """Fields on the block's first data line, where more than the header's (else 0): pandas reads such a
    first line of the file as an index, and refuses it elsewhere unless `columns` is given."""
    options = {"sep": src.delimiter, "header": None, "nrows": 1, "dtype": str, "na_filter": False}
    # whole lines of the block's start are enough, unless its first record is longer than them
    lines = text.data.rfind(b"\n", 0, _LOOKAHEAD) + 1
    for end in (lines, len(text.data)) if lines else (len(text.data),):
        try:
            first = pd.read_csv(io.BytesIO(text.data[:end]), index_col=False, **options)
            return first.shape[1] if first.shape[1] > len(src.names) else 0
        except (ValueError, UnicodeDecodeError):  # no data line (yet), or one the whole parse reports
            continue
    return 0


@contextmanager
def _errors(text: _Text | Callable[[], _Text], path: str = "the file") -> Iterator[None]:
    """pandas' reading errors as DataErrors, with physical line numbers (`text`: the bytes parsed, or
    how to read them)."""
    where: Callable[[], _Text] = text if callable(text) else (lambda: text)
    try:
        yield
    except UnicodeDecodeError:
        data = where()
        try:
            data.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError("the file is not UTF-8 text", line=data.line_at(exc.start)) from None
        raise DataError("the file is not UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty: no header line", line=1) from None
    except pd.errors.ParserError as exc:
        message = str(exc).removeprefix("Error tokenizing data. C error: ").strip()
        if m := _EXPECTED.search(message):
            fields = f"line has {m[3]} fields but the header has {m[1]}"
            raise DataError(fields, line=_record_line(where(), record=int(m[2]) - 1)) from None
        line = _record_line(where(), record=int(m[1])) if (m := _EOF_ROW.search(message)) else None
        raise DataError(f"cannot parse the file: {message}", line=line) from None
    except OSError as exc:
        raise DataError(f"cannot read '{path}': {exc.strerror or exc}") from None


def _bad_value(text: _Text, src: CsvSource, forced: dict[str, Any], exc: Exception) -> DataError:
    """The first value of the failing block that does not fit its dtype, found on the text."""
    found: list[tuple[int, str, str, str]] = []
    cols = [c for c, d in forced.items() if d in ("int64", "float64", "bool")]
    chunk = _parse(text, src, dict.fromkeys(cols, "str"), {}, {}, usecols=cols) if cols else pd.DataFrame()
    for c in cols if not chunk.empty else ():
        values = chunk[c].reset_index(drop=True)
        number = pd.to_numeric(values, errors="coerce")
        bad = {
            "int64": values.isna() | number.isna() | (number % 1 != 0),
            "float64": values.notna() & number.isna(),
            "bool": ~values.str.lower().isin(("true", "false")),  # pandas ignores case
        }[forced[c]].to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            # for int64, float64 takes missing values and fractions; any other text takes "string"
            fits = pd.isna(values[row]) or not pd.isna(number[row])
            advice = "float64" if forced[c] == "int64" and fits else "string"
            found.append((row, c, "a missing value" if pd.isna(values[row]) else repr(values[row]), advice))
    if not found:
        return DataError(f"a value does not fit the dtype given in `dtypes`: {exc}")
    row, column, value, advice = min(found)
    message = f"{value} does not fit {forced[column]}: set the column's dtype to {advice!r} in `dtypes`"
    return DataError(message, column=column, line=_row_line(text, row))


def _header(path: str, delimiter: str) -> tuple[list[str], dict[str, str]]:
    """pandas' column names (a repeated name becomes "a.1") and the raw header name of each."""
    with _errors(lambda: _whole_file(path, delimiter), path):
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


# ---------------------------------------------------------------------------------- error lines


def _record_line(text: _Text, *, record: int) -> int | None:
    """Physical line of pandas' record number `record` in the parsed bytes (0-based, counting blank lines,
    and the header of a whole file). Only for errors."""
    starts = _record_starts(text)
    return text.line_at(int(starts[record])) if starts is not None and 0 <= record < len(starts) else None


def _row_line(text: _Text, row: int) -> int | None:
    """Physical line of data row `row` of the parsed bytes: pandas skips blank and whitespace-only lines
    (and the header, the first other line of a whole file). Only for errors."""
    starts = _record_starts(text)
    if starts is None:
        return None
    arr = np.frombuffer(text.data, dtype=np.uint8)
    space = np.frombuffer(b" \t\r\n".replace(text.delimiter.encode(), b""), dtype=np.uint8)
    solid = np.concatenate([[0], np.cumsum(~np.isin(arr, space))])
    ends = np.append(starts[1:], len(arr))
    starts = starts[solid[ends] > solid[starts]][1 if text.header else 0 :]
    return text.line_at(int(starts[row])) if 0 <= row < len(starts) else None


def _record_starts(text: _Text) -> np.ndarray | None:
    """Byte offsets where pandas' records start: after each newline outside quotes."""
    arr = np.frombuffer(text.data, dtype=np.uint8)
    if not len(arr):
        return None
    newlines = np.flatnonzero(arr == _NL)
    outside = newlines[~_quoted(arr, newlines, ord(text.delimiter))]
    starts = np.concatenate([[0], outside + 1])
    return starts[starts < len(arr)]
