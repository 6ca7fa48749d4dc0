"""source.csv's chunked reader against plain pandas: same values and dtypes whatever the chunking."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.errors import DataError
from engine.nodes.csvread import (
    csv_blocks,
    default_chunk_rows,
    plan_from_scans,
    read_block,
    read_csv_chunks,
    read_speculative,
    scan_block,
    scan_csv,
)

# The reference's own mapping of format dtypes (never imported from engine code).
PANDAS_DTYPES = {
    "int64": "int64",
    "float64": "float64",
    "string": "str",
    "bool": "bool",
    "category": "category",
}
MISSING = ["", "NA", "null", "NaN", "n/a", "None"]


def write(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def reference(path: Path, **opts: Any) -> pd.DataFrame:
    """Plain pandas 3 on the whole file, columns in the order asked for."""
    dtypes = opts.get("dtypes") or {}
    dates = [*(opts.get("parse_dates") or []), *(c for c, t in dtypes.items() if t == "datetime")]
    frame = pd.read_csv(
        path,
        sep=opts.get("delimiter", ","),
        usecols=opts.get("columns"),
        dtype={c: PANDAS_DTYPES[t] for c, t in dtypes.items() if t != "datetime"} or None,
        parse_dates=dates or None,
        na_values=opts.get("na_values"),
    )
    return frame[opts["columns"]] if opts.get("columns") else frame


def reference_or_none(path: Path, **opts: Any) -> pd.DataFrame | None:
    """None where pandas refuses the file. Its warning that it parses dates one by one with dateutil
    is silenced here only (the reader does the same, silently), and so is numpy's before a refusal."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
        warnings.filterwarnings("ignore", "invalid value encountered in cast", RuntimeWarning)  # then fails
        try:
            return reference(path, **opts)
        except ValueError:
            return None


def read_all(
    path: Path, scan_rows: int | None = None, read_rows: int | None = None, **opts: Any
) -> pd.DataFrame:
    plan = scan_csv(path, chunk_rows=scan_rows, **opts)
    return pd.concat(list(read_csv_chunks(plan, chunk_rows=read_rows)))


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_exact=True)


# ---------------------------------------------------------------------------------------- property

INTS = st.integers(-(10**6), 10**6).map(str)
FLOATS = st.floats(-1e6, 1e6, allow_nan=False).map(repr) | st.sampled_from(
    ["1.5", "2", "-0.25", "1e3", "inf"]
)
NUMERIC_TEXT = st.sampled_from(["007", "1e5", " 3", "+4", "0x10", "1_000", "nan?"])
TEXT = st.text(st.sampled_from('ab ,"\n;x7'), min_size=1, max_size=6) | NUMERIC_TEXT
BOOLS = st.sampled_from(["True", "False", "TRUE", "false"])
DAY = st.dates(pd.Timestamp("1990-01-01").date(), pd.Timestamp("2030-12-31").date()).map(str)
CLOCK = st.sampled_from(["10:30:00", "23:59:59", "00:00:00.5", "12:00:00.000000001", "01:02:03.123456"])
STAMPS = st.tuples(DAY, CLOCK).map(" ".join)
CELLS = {
    "int": INTS,
    "float": FLOATS,
    "int_missing": INTS | st.sampled_from(MISSING),
    "text": TEXT | INTS | st.sampled_from(MISSING),
    "bool": BOOLS,
    "bool_missing": BOOLS | st.sampled_from(MISSING),
    "date": DAY | st.sampled_from(["", "NA"]),
    "stamp": STAMPS | st.sampled_from(["", "NaT"]),
    "zoned": st.tuples(DAY, st.sampled_from(["+01:00", "+01:00", "Z"])).map("T00:00:00".join) | st.just(""),
    "bad_date": DAY | STAMPS | st.sampled_from(["", "xx", "2020-13-45", "1"]),
    "mixed": INTS | FLOATS | BOOLS | TEXT | st.sampled_from(MISSING),
}
DATE_KINDS = ("date", "stamp", "zoned", "bad_date")
# dtypes each kind of column accepts, so that most overrides read; any dtype now and then, to check
# that the reader refuses what pandas refuses
OVERRIDES = {
    "int": ["int64", "float64", "string", "category"],
    "float": ["float64", "string", "category"],
    "int_missing": ["float64", "string", "category"],
    "text": ["string", "category"],
    "bool": ["bool", "string", "category"],
    "bool_missing": ["string", "category"],
    "mixed": ["string", "category"],
    **{kind: ["datetime", "string"] for kind in DATE_KINDS},
}
ANY_DTYPE = ["int64", "float64", "string", "bool", "datetime", "category"]


@st.composite
def csv_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[str]]:
    """A small CSV text, read options for it, and the kind of each column."""
    kinds = draw(st.lists(st.sampled_from(sorted(CELLS)), min_size=1, max_size=5))
    names = [f"c{i}" for i in range(len(kinds))]
    rows = draw(st.integers(0, 12))
    delimiter = draw(st.sampled_from([",", ";"]))
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(names)
    for _ in range(rows):
        row = [draw(CELLS[kind]) for kind in kinds]
        assume(any(row))  # an all-empty line would be a blank line, which pandas skips
        writer.writerow(row)
    opts: dict[str, Any] = {"delimiter": delimiter}
    if draw(st.booleans()):
        opts["columns"] = draw(
            st.permutations(names).flatmap(lambda p: st.sampled_from([p[:i] for i in range(1, len(p) + 1)]))
        )
    chosen = opts.get("columns", names)
    dates = [n for n, k in zip(names, kinds, strict=True) if k in DATE_KINDS and n in chosen]
    if dates and draw(st.booleans()):
        opts["parse_dates"] = draw(st.lists(st.sampled_from(dates), unique=True, min_size=1))
    free = [n for n in chosen if n not in opts.get("parse_dates", [])]
    if free and draw(st.booleans()):
        pick = draw(st.lists(st.sampled_from(free), unique=True, max_size=3))
        choices = {
            n: OVERRIDES[kinds[names.index(n)]] if draw(st.integers(0, 9)) else ANY_DTYPE for n in pick
        }
        opts["dtypes"] = {n: draw(st.sampled_from(c)) for n, c in choices.items()}
    if draw(st.booleans()):
        opts["na_values"] = draw(st.lists(st.sampled_from(["x", "007", "-", "False", "a"]), max_size=2))
    return buf.getvalue(), opts, kinds


@settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much]
)
@given(case=csv_cases(), scan_rows=st.integers(1, 10), read_rows=st.integers(1, 10))
def test_read_csv_chunks_random_csv_equals_pandas(
    tmp_path: Path, case: tuple[str, dict[str, Any], list[str]], scan_rows: int, read_rows: int
) -> None:
    text, opts, _ = case
    path = write(tmp_path, text)
    expected = reference_or_none(path, **opts)
    if expected is None:  # pandas refuses or warns: the reader must refuse too, with a DataError
        with pytest.raises(DataError):
            read_all(path, scan_rows, read_rows, **opts)
        return
    assert_same(read_all(path, scan_rows, read_rows, **opts), expected)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(0, 40), k=st.integers(1, 10))
def test_read_csv_chunks_any_chunk_rows_index_is_global_positions(tmp_path: Path, rows: int, k: int) -> None:
    path = write(tmp_path, "a,b\n" + "".join(f"{i},x{i}\n" for i in range(rows)))
    chunks = list(read_csv_chunks(scan_csv(path), chunk_rows=k))
    sizes = [len(c) for c in chunks]
    # blocks are cut by bytes, at about k rows' worth of the first MB's bytes per row
    assert all(1 <= n <= 2 * k for n in sizes) or sizes == [0] == [rows]
    start = 0
    for chunk in chunks:
        assert chunk.index.equals(pd.RangeIndex(start, start + len(chunk)))
        start += len(chunk)
    assert start == rows


# -------------------------------------------------------------------------------------- unification


@pytest.mark.parametrize(
    ("text", "dtype"),
    [
        ("a\n1\n2\n3\n4\n", "int64"),
        ("a\n1\n2\n3\n4.5\n", "float64"),
        ("a\n1\n2\n3\n\n4\nNA\n", "float64"),  # the blank line is skipped; NA makes it float
        ("a\n007\n8\n9\nx\n", "str"),  # "007" keeps its text
        ("a\nTrue\nFalse\nTrue\nnull\n", "object"),
        ("a\nTrue\nFalse\nTrue\n1\n", "str"),
        ('a\nNA\n""\nnull\nNA\n', "float64"),
        ("a\n1\n2\n18446744073709551615\n3\n", "uint64"),
        ("d\n2020-01-01\n2020-01-02\n2020-01-03 10:00:00\n", "str"),  # pandas' parse fails: text
        ("d\n2020-01-01 10:00:00.5\n\n2020-01-01 10:00:00.000000001\n", "datetime64[ns]"),
        ("d\nNA\n2020-01-01T00:00:00+01:00\n2020-01-02T00:00:00+01:00\n", "datetime64[us, UTC+01:00]"),
        ("d\n2020-01-01T00:00:00+01:00\n2020-01-02T00:00:00+02:00\n", "str"),
        ("d\nhello\n", "str"),  # no format to guess, dateutil fails: text
    ],
)
def test_scan_csv_chunks_of_one_row_unify_to_pandas_dtype(tmp_path: Path, text: str, dtype: str) -> None:
    path = write(tmp_path, text)
    dates = ["d"] if text.startswith("d") else None
    got = read_all(path, 1, 2, parse_dates=dates)
    assert str(got.iloc[:, 0].dtype) == dtype
    assert_same(got, reference(path, parse_dates=dates))


def test_scan_csv_numeric_na_values_match_pandas(tmp_path: Path) -> None:
    # "7" is missing as text ("007" -> "7"); " 7" only as a number, which pandas' float parse applies
    path = write(tmp_path, "a,b\n7,1\n 7,2\n1.5,3\n")
    got = read_all(path, 1, 2, na_values=["007"])
    assert_same(got, reference(path, na_values=["007"]))
    assert got["a"].isna().tolist() == [True, True, False]


def test_scan_csv_category_chunks_get_whole_file_categories(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n10,x\n2,\n007,y\n10,x\n,z\n")
    for column in ("a", "b"):
        opts = {"dtypes": {column: "category"}}
        assert_same(read_all(path, 1, 2, **opts), reference(path, **opts))


def test_scan_csv_header_only_gives_pandas_empty_frame(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c\n")
    opts = {"dtypes": {"a": "int64", "b": "category"}, "parse_dates": ["c"]}
    got = read_all(path, 3, **opts)
    pd.testing.assert_frame_equal(got, reference(path, **opts))


def test_scan_csv_plan_pickles_and_reads_the_same(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c\n1,x,2020-01-01\n2,,2020-01-02\n")
    plan = scan_csv(path, parse_dates=["c"], dtypes={"b": "category"}, chunk_rows=1)
    again = pickle.loads(pickle.dumps(plan))
    assert plan.rows == 2 and plan.chunk_rows == 1
    pd.testing.assert_frame_equal(pd.concat(read_csv_chunks(again)), pd.concat(read_csv_chunks(plan)))


def test_default_chunk_rows_long_rows_fewer_rows_per_chunk(tmp_path: Path) -> None:
    short = write(tmp_path, "a\n" + "1\n" * 5000, "short.csv")
    long = write(tmp_path, "a\n" + ("x" * 30_000 + "\n") * 20, "long.csv")
    assert default_chunk_rows(short) > default_chunk_rows(long) == 1000
    assert default_chunk_rows(short) == default_chunk_rows(short)


# ------------------------------------------------------------------------------------------- errors

ERRORS = [
    # (file bytes, options, message fragment, column, line)
    (b"", {}, "empty", None, 1),
    (b"a,b\n1,2\n3,\xff\n", {}, "UTF-8", None, 3),
    (b"alpha,b\n1,2\n", {"columns": ["alpah"]}, "did you mean 'alpha'", "alpah", 1),
    (b"alpha,b\n1,2\n", {"dtypes": {"bb": "int64"}}, "dtypes names a column not in the header", "bb", 1),
    (b"alpha,b\n1,2\n", {"parse_dates": ["alph"]}, "did you mean 'alpha'", "alph", 1),
    (b"a,b\n1,2\n", {"dtypes": {"a": "integer"}}, "unknown dtype", "a", None),
    (b"a,b\n1,2\n", {"parse_dates": ["a"], "dtypes": {"a": "int64"}}, "parse_dates", "a", None),
    (b"a,b\n1,2\n", {"delimiter": ";;"}, "one character", None, None),
    (b"a,b\n1,2\n3,4,5\n", {}, "3 fields but the header has 2", None, 3),
    (b'a,b\n1,"x\ny"\n\n3,4,5\n', {}, "3 fields", None, 5),  # quoted newline and blank line count
    (b"a,b\n1,2,3\n", {}, "more fields than the header", None, 2),
    (b'a,b\n1,2\n3,"x\n', {}, "EOF inside string", None, 3),
    (
        b"a,b\n1,x\n,y\n",
        {"dtypes": {"a": "int64"}},
        "a missing value does not fit int64: set the column's dtype to 'float64'",
        "a",
        3,
    ),
    (b"a\n1\n\n2.5\n", {"dtypes": {"a": "int64"}}, "'2.5' does not fit int64", "a", 4),
    (
        b"a\n1\nabc\n",
        {"dtypes": {"a": "float64"}},
        "'abc' does not fit float64: set the column's dtype to 'string'",
        "a",
        3,
    ),
    (b"a\nTrue\nmaybe\n", {"dtypes": {"a": "bool"}}, "'maybe' does not fit bool", "a", 3),
    (b"a,b\ntrue,1\n,2\n", {"dtypes": {"a": "bool"}}, "a missing value does not fit bool", "a", 3),
    (b"a,b\n1,2\n", {"columns": []}, "at least one", None, None),
    (b"a\n18446744073709551615\nNA\n", {}, "dtypes", "a", 3),
    # without a float in the column pandas keeps " 7" (7.0); chunk by chunk that cannot be told
    (b"a\n7\n 7\n2\n", {"na_values": ["007"]}, "only as a number", "a", 3),
    (b"a\n18446744073709551615\n\nNA\n", {"chunk_rows": 100}, "dtypes", "a", 2),  # one chunk
]


@pytest.mark.parametrize(("data", "opts", "fragment", "column", "line"), ERRORS)
def test_scan_csv_bad_file_raises_data_error(
    tmp_path: Path, data: bytes, opts: dict[str, Any], fragment: str, column: str | None, line: int | None
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(DataError) as caught:
        scan_csv(path, **{"chunk_rows": 1, **opts})
    assert fragment in caught.value.message
    assert (caught.value.column, caught.value.line) == (column, line)


def test_scan_csv_missing_file_raises_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        scan_csv(tmp_path / "nope.csv")


# ------------------------------------------------------------------------------------------ blocks


def read_blocks(path: Path, **opts: Any) -> pd.DataFrame:
    """The executor's way: blocks scanned and read in tasks (threads here), descriptions, scans and the
    plan pickled as they would be to reach worker processes. Checks each block's index."""
    blocks = [pickle.loads(pickle.dumps(b)) for b in csv_blocks(path, **opts)]
    with ThreadPoolExecutor(2) as pool:
        scans = [pickle.loads(pickle.dumps(s)) for s in pool.map(scan_block, blocks)]
        plan = pickle.loads(pickle.dumps(plan_from_scans(scans)))
        frames = list(pool.map(read_block, blocks, [plan] * len(blocks)))
    start = 0
    for frame in frames:
        assert frame.index.equals(pd.RangeIndex(start, start + len(frame)))
        start += len(frame)
    return pd.concat(frames)


class Raw(str):
    """A cell written without quoting."""


# Quoted fields with newlines, delimiters and doubled quotes (csv.writer quotes them), and quotes
# inside unquoted fields, which pandas reads as text ('12" pizza'): written as they are.
QUOTED_TEXT = st.text(st.sampled_from('ab,;"\n\r x'), min_size=1, max_size=8)
RAW_TEXT = st.from_regex(r'[a-z][a-z" ]{0,5}', fullmatch=True).map(Raw)
SPLIT_CELLS = INTS | FLOATS | QUOTED_TEXT | RAW_TEXT | st.sampled_from(["", "NA"])


@st.composite
def split_cases(draw: st.DrawFn) -> tuple[bytes, str]:
    """CSV bytes with CRLF or LF, blank and whitespace-only lines, maybe no final newline."""
    width = draw(st.integers(1, 4))
    delimiter = draw(st.sampled_from([",", ";"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [delimiter.join(f"c{i}" for i in range(width))]
    for _ in range(draw(st.integers(0, 30))):
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["", "  ", "\t"])))
            continue
        cells = [draw(SPLIT_CELLS) for _ in range(width)]
        assume(any(c.strip() for c in cells))  # else a blank line, which pandas skips
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator="").writerow(
            ["\0" if isinstance(c, Raw) else c for c in cells]
        )
        raw = iter(c for c in cells if isinstance(c, Raw))
        lines.append("".join(next(raw) if part == "\0" else part for part in buf.getvalue().split("\0")))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    return text.encode(), delimiter


@settings(
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(case=split_cases(), chunk_rows=st.integers(1, 4))
def test_blocks_random_quoting_equal_pandas(tmp_path: Path, case: tuple[bytes, str], chunk_rows: int) -> None:
    data, delimiter = case
    path = write(tmp_path, data)
    expected = reference_or_none(path, delimiter=delimiter)
    if expected is None:
        with pytest.raises(DataError):
            read_blocks(path, delimiter=delimiter, chunk_rows=chunk_rows)
        return
    got = read_blocks(path, delimiter=delimiter, chunk_rows=chunk_rows)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)  # index 0..n-1 too


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_blocks_integral_float_text_after_ints_reads_as_float(tmp_path: Path, chunk_rows: int) -> None:
    """Found by the quoting property: pandas' int64 parse takes "0.0", inference reads it as a
    float, so a block hinted int64 by its first lines must not keep int64."""
    # the last line has no newline: a block's first lines (up to its last newline) miss it
    path = write(tmp_path, b"c0,c1,c2\n\n\n\n0,0,0\n0,0,0.0")
    got = read_blocks(path, chunk_rows=chunk_rows)
    pd.testing.assert_frame_equal(got, pd.read_csv(path), check_exact=True)
    assert got["c2"].dtype == np.float64


def test_blocks_cut_only_outside_quotes(tmp_path: Path) -> None:
    rows = [f'{i},"line\none, ""{i}""\n",{i}" tall' for i in range(200)]
    path = write(tmp_path, "a,b,c\r\n" + "\r\n\r\n".join(rows))  # blank lines, no final newline
    blocks = csv_blocks(path, chunk_rows=3)
    assert len(blocks) > 30
    assert (
        blocks[0].offset == len("a,b,c\r\n") and blocks[-1].offset + blocks[-1].length == path.stat().st_size
    )
    data = path.read_bytes()
    for block in blocks:  # each starts at a row, on its physical line
        assert data[block.offset :].startswith(b"\r\n") or data[block.offset : block.offset + 1].isdigit()
        assert block.line == data.count(b"\n", 0, block.offset) + 1
    pd.testing.assert_frame_equal(read_blocks(path, chunk_rows=3), reference(path), check_exact=True)


def test_blocks_text_quotes_in_every_row_still_cut_like_pandas_reads(tmp_path: Path) -> None:
    # quotes inside unquoted fields are text: the parity of '"' alone would see every newline quoted
    rows = [f'{i},x{i}"in,"{i}\n"\n' if i % 2 else f'{i},{i}"in"",""a\n' for i in range(300)]
    path = write(tmp_path, "a,b,c\n" + "".join(rows) + '1,"p\nq",\n')
    assert len(csv_blocks(path, chunk_rows=1)) > 250
    pd.testing.assert_frame_equal(read_blocks(path, chunk_rows=1), reference(path), check_exact=True)


def test_blocks_header_only_and_empty_data_give_pandas_empty_frame(tmp_path: Path) -> None:
    for text in ("a,b", "a,b\n", "a,b\r\n\r\n  \n"):
        path = write(tmp_path, text)
        assert len(csv_blocks(path)) == 1
        opts = {"dtypes": {"a": "int64"}, "parse_dates": ["b"]}
        pd.testing.assert_frame_equal(read_blocks(path, **opts), reference(path, **opts))


def test_blocks_long_wide_first_line_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n" + "x" * 70_000 + ",1,2\n3,4\n")  # longer than one look at a block's start
    with pytest.raises(DataError, match="first data line has more fields") as caught:
        read_blocks(path)
    assert caught.value.line == 2


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_blocks_bool_tokens_and_numbers_in_one_column_fail_as_pandas(tmp_path: Path, chunk_rows: int) -> None:
    # pandas reads a column of only bool tokens as int64/float64 (and one of numbers as bool), never a mix
    cases = [
        ("a,b\n" + "0,x\n" * 7 + "True,x\n", {"a": "int64"}, "'True' does not fit int64", 9),
        ("a,b\n" + "True,x\n" * 5 + "1,x\n", {"a": "bool"}, "'1' does not fit bool", 7),
        ("a,b\n" + "1.5,x\n" * 3 + ",x\n" + "false,x\n" * 3, {"a": "float64"}, "'false' does not fit", 6),
    ]
    for text, dtypes, fragment, line in cases:
        path = write(tmp_path, text)
        with pytest.raises(DataError, match=fragment) as caught:
            read_blocks(path, chunk_rows=chunk_rows, dtypes=dtypes)
        assert (caught.value.column, caught.value.line) == ("a", line)
    for text, dtypes in [("a\nTrue\nfalse\n\nTRUE\n", {"a": "float64"}), ("a\n1\n0\n1\n", {"a": "bool"})]:
        path = write(tmp_path, text)
        opts = {"dtypes": dtypes}
        pd.testing.assert_frame_equal(
            read_blocks(path, chunk_rows=chunk_rows, **opts), reference(path, **opts)
        )


def test_source_csv_step_scans_then_loads_blocks(tmp_path: Path) -> None:
    from engine.nodes.io import _build_csv
    from engine.steps import BuildContext

    rows = "".join(f'{i},"t\n{i}",2024-01-0{1 + i % 9} 10:00:00\n' for i in range(500))
    path = write(tmp_path, "a,b,c\n" + rows)
    params = dict.fromkeys(("delimiter", "columns", "dtypes", "na_values"), None) | {"delimiter": ","}
    (read,) = _build_csv(
        {**params, "path": path.name, "parse_dates": ["c"], "chunk_rows": 7}, BuildContext("n", tmp_path)
    )
    read = pickle.loads(pickle.dumps(read))  # module-level functions and partials: any worker can run it
    blocks = list(read.partitions())
    assert len(blocks) > 10 and list(read.partitions()) == blocks  # the second pass gets the same blocks
    plan = read.combine_scans([read.scan(b) for b in blocks])
    got = pd.concat([read.load(b, plan) for b in blocks])
    pd.testing.assert_frame_equal(got, reference(path, parse_dates=["c"]), check_exact=True)


# A file whose errors sit in later blocks: quoted newlines, blank lines and CRLF before them.
LATER = (
    "a,b\r\n"
    + "".join(f'{i},"x\r\ny"\r\n\r\n' for i in range(20))  # rows of 3 physical lines: 2..61
    + "{row}\r\n"  # physical line 62
    + "1,2\r\n"
)


@pytest.mark.parametrize(
    ("row", "opts", "fragment", "column", "line"),
    [
        ("2.5,z", {"dtypes": {"a": "int64"}}, "'2.5' does not fit int64", "a", 62),
        ("1,2,3", {}, "3 fields but the header has 2", None, 62),
        ('7,"open', {}, "EOF inside string", None, 62),
        # uint64 next to ints is fine; the NA is not: the line starts the block where they meet
        ("18446744073709551615,z", {}, "dtypes", "a", (63, 64)),
        (" 99,z", {"na_values": ["0099"]}, "only as a number", "a", 62),  # float64 by the NA, no fraction
    ],
)
@pytest.mark.parametrize("chunk_rows", [1, 2, 5])
def test_blocks_error_in_later_block_names_physical_line(
    tmp_path: Path,
    row: str,
    opts: dict[str, Any],
    fragment: str,
    column: str | None,
    line: int | tuple[int, ...],
    chunk_rows: int,
) -> None:
    path = write(tmp_path, LATER.format(row=row) + "NA,3\r\n")  # physical line 64
    for read in (
        lambda: read_blocks(path, chunk_rows=chunk_rows, **opts),
        lambda: scan_csv(path, chunk_rows=chunk_rows, **opts),
    ):
        with pytest.raises(DataError) as caught:
            read()
        assert fragment in caught.value.message
        assert caught.value.column == column
        assert caught.value.line in (line if isinstance(line, tuple) else (line,))


def test_read_block_larger_than_pandas_internal_chunk_keeps_whole_file_types(tmp_path: Path) -> None:
    # With every type known, a block is parsed in pandas' internal chunks (low_memory): 20 columns make
    # those ~52,000 rows. A text column of digits in the first chunk and words later must stay text
    # ("00123", not 123), and a float column whose first chunk holds only ints stays float.
    rows, width = 120_000, 20
    codes = [f"{i % 1000:05d}" for i in range(rows)]
    codes[100_000] = "zip?"
    amounts = [str(i) for i in range(rows)]
    amounts[110_000] = "2.5"
    stamps = [f"2024-01-{1 + i % 28:02d} 10:00:00" for i in range(rows)]
    small = [str(i % 7) for i in range(rows)]
    body = zip(codes, amounts, stamps, *[small] * (width - 3), strict=True)
    header = ["code", "amount", "ts", *(f"c{i}" for i in range(width - 3))]
    text = "\n".join(",".join(r) for r in [header, *body]) + "\n"
    path = write(tmp_path, text)
    got = read_all(path, scan_rows=rows, parse_dates=["ts"])
    assert got["code"].iloc[0] == "00000" and got["amount"].dtype == "float64"
    # pandas' own default reads such a file in chunks too, and mixes types with a warning; one inference
    # over the whole column is what the reader follows
    assert_same(got, pd.read_csv(path, parse_dates=["ts"], low_memory=False))


# ------------------------------------------------------------------------------ one speculative parse


def speculated(path: Path, **opts: Any) -> list[bool]:
    """Every block read as a speculative task does (pickled as for a worker process), the plan from
    their scans; where a block's speculation fits that plan, its frame must be read_block's, exactly.
    Which blocks fit."""
    blocks = csv_blocks(path, **opts)
    results = [pickle.loads(pickle.dumps(read_speculative(b))) for b in blocks]
    plan = plan_from_scans([s.scan for _, s in results])
    fits = []
    for block, (frame, speculation) in zip(blocks, results, strict=True):
        fits.append(speculation.fits(plan))
        if fits[-1]:
            pd.testing.assert_frame_equal(frame, read_block(block, plan), check_exact=True)
    return fits


@settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much]
)
@given(case=csv_cases(), chunk_rows=st.integers(1, 10))
def test_read_speculative_random_csv_fits_only_as_read_block(
    tmp_path: Path, case: tuple[str, dict[str, Any], list[str]], chunk_rows: int
) -> None:
    text, opts, _ = case
    path = write(tmp_path, text)
    with contextlib.suppress(DataError):  # refused files: the two-pass tests check the errors
        speculated(path, chunk_rows=chunk_rows, **opts)


@settings(
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(case=split_cases(), chunk_rows=st.integers(1, 4))
def test_read_speculative_random_quoting_fits_only_as_read_block(
    tmp_path: Path, case: tuple[bytes, str], chunk_rows: int
) -> None:
    data, delimiter = case
    path = write(tmp_path, data)
    with contextlib.suppress(DataError):
        speculated(path, delimiter=delimiter, chunk_rows=chunk_rows)


def test_read_speculative_plain_file_every_block_fits(tmp_path: Path) -> None:
    rows = "".join(f"{i},x{i},2024-01-0{1 + i % 9} 10:00:00,{i / 4}\n" for i in range(300))
    fits = speculated(write(tmp_path, "a,b,c,d\n" + rows), chunk_rows=20, parse_dates=["c"])
    assert len(fits) > 10 and all(fits)


def test_read_speculative_blocks_that_disagree_with_the_file_do_not_fit(tmp_path: Path) -> None:
    rows = [f"{i},{i}" for i in range(300)]
    rows[250] = "250,2.5"  # b is float64 in the file: only the block of that row reads it so alone
    fits = speculated(write(tmp_path, "a,b\n" + "\n".join(rows) + "\n"), chunk_rows=20)
    assert len(fits) > 10 and fits.count(True) == 1
    rows = [f"{i},{i}" for i in range(300)]
    rows.insert(150, "")  # a blank line: the rows after it start one line earlier than counted
    fits = speculated(write(tmp_path, "a,b\n" + "\n".join(rows) + "\n"), chunk_rows=20)
    assert all(fits[:5]) and not any(fits[-5:])
    fits = speculated(
        write(tmp_path, "a,b\n" + "\n".join(rows) + "\n"), chunk_rows=20, dtypes={"b": "category"}
    )
    assert not any(fits)  # categories come from the whole file


def _speculative_run(tmp_path: Path, nodes: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[Any]]:
    from engine.execute import run
    from engine.projectfile import loads
    from engine.registry import builtin_registry
    from tests.runner import chain

    events: list[Any] = []
    registry = builtin_registry()
    sink = {"id": "out", "type": "sink.parquet", "params": {"path": "out.parquet"}}
    edges = chain(*nodes, sink)
    project = {
        "format": "graphmill/1",
        "nodes": [*nodes, sink],
        "edges": [{"from": a, "to": b} for a, b in edges],
    }
    from engine.backends import Joblib

    backend = Joblib("threading", 2)
    try:
        run(loads(json.dumps(project), registry), registry, tmp_path, backend, on_event=events.append)
    finally:
        backend.close()
    return pd.read_parquet(tmp_path / "out.parquet"), events


@pytest.mark.parametrize("dtypes", [None, {"b": "category"}])
def test_source_csv_speculative_stage_runs_again_what_does_not_fit(
    tmp_path: Path, dtypes: dict[str, str] | None
) -> None:
    from engine.events import NodeFinished, PartitionDone

    # a blank line shifts the rows after it: those blocks run again (their events already sent),
    # and with categories none is kept (their events are sent by the replay)
    rows = [f"{i},k{i % 50:03d},{i % 7}" for i in range(400)]
    rows.insert(200, "")
    path = write(tmp_path, "a,b,c\n" + "\n".join(rows) + "\n")
    params = {"path": path.name, "chunk_rows": 30, "dtypes": dtypes}
    nodes = [
        {"id": "src", "type": "source.csv", "params": params},
        {"id": "keep", "type": "compute", "params": {"filter": "a % 3 != 0"}},
        {"id": "tidy", "type": "clean", "params": {"drop_duplicates": ["b", "c"]}},
    ]
    got, events = _speculative_run(tmp_path, nodes)
    frame = reference(path, dtypes=dtypes or {})
    expected = frame[frame["a"] % 3 != 0].drop_duplicates(["b", "c"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    totals = {e.node: e for e in events if isinstance(e, NodeFinished)}
    for node in ("src", "keep"):
        parts = [e for e in events if isinstance(e, PartitionDone) and e.node == node]
        assert sum(e.rows_out for e in parts) == totals[node].rows_out, node
        assert sorted(e.partition for e in parts) == list(range(totals[node].partitions)), node


def test_source_csv_speculative_error_names_the_files_data_row(tmp_path: Path) -> None:
    rows = [f"{i},{i}" for i in range(400)]
    rows[300] = "300,x"  # the cast fails on data row 301, in a block read again with positions known
    rows.insert(100, "")
    path = write(tmp_path, "a,b\n" + "\n".join(rows) + "\n")
    nodes = [
        {"id": "src", "type": "source.csv", "params": {"path": path.name, "chunk_rows": 30}},
        {"id": "tidy", "type": "clean", "params": {"cast": {"b": "int64"}, "drop_duplicates": True}},
    ]
    with pytest.raises(DataError, match="data row 301") as caught:
        _speculative_run(tmp_path, nodes)
    assert caught.value.node == "tidy"


def _scans_with_and_without_hints(path: Path, **opts: Any) -> None:
    """Each block's scan with dtypes hinted from its first lines equals the scan by inference alone."""
    from engine.nodes import csvread

    try:
        blocks = csv_blocks(path, **opts)
    except DataError:
        return
    for block in blocks:
        found = []
        for hinting in (True, False):
            with patch.object(csvread, "_head_dtypes", csvread._head_dtypes if hinting else lambda *_: None):
                try:
                    scan = scan_block(block)
                    found.append((scan.rows, scan.kinds, scan.loose, scan.tokens, scan.formats))
                except DataError as exc:
                    found.append((exc.message, exc.column, exc.line))
        assert found[0] == found[1]


@settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much]
)
@given(case=csv_cases(), chunk_rows=st.integers(1, 10))
def test_scan_block_hinted_dtypes_give_the_kinds_inference_gives(
    tmp_path: Path, case: tuple[str, dict[str, Any], list[str]], chunk_rows: int
) -> None:
    text, opts, _ = case
    _scans_with_and_without_hints(write(tmp_path, text), chunk_rows=chunk_rows, **opts)


@pytest.mark.parametrize(
    "values",
    [
        ["1", "2", "NA", "2.5"],  # float by the missing value and the fraction
        ["1", "2", "3", "4.0"],  # float64 parses it, but so would int64 alone: inferred
        ["1", "2", "99999999999999999999", "1.5"],  # beyond int64: pandas keeps the text
        ["1", "NA", "99999999999999999999", "7"],  # beyond int64 with a missing value: object
        ["x", "y", "18446744073709551616", "NA"],
        ["18446744073709551616", "NA", "abc", "q"],  # the missing token stays text
        ["a", "inf", "True", "1e5"],  # letters every parser takes: not proof of text
        ["a", "b", "NA", "zz"],
        ["0x10", "1_000", "nan?", "7"],
    ],
)
def test_scan_block_hinted_dtypes_tricky_columns(tmp_path: Path, values: list[str]) -> None:
    head = [values[0]] * 3000  # the block's first 64 KB infer from these
    path = write(tmp_path, "a,b\n" + "".join(f"{v},{i}\n" for i, v in enumerate(head + values * 50)))
    _scans_with_and_without_hints(path)
    _scans_with_and_without_hints(path, chunk_rows=3100)
    mixed = write(tmp_path, "a,b\n" + "".join(f"{v},{i}\n" for i, v in enumerate(values * 2000)), "mixed.csv")
    _scans_with_and_without_hints(mixed)  # the first lines infer from every value
    _scans_with_and_without_hints(mixed, chunk_rows=1000)


def test_blocks_are_cut_as_they_are_taken_and_replayed_for_the_second_pass(tmp_path: Path) -> None:
    """A run's first block is read while the rest of the file is still uncut; the second pass
    gets the same blocks without cutting again; a failed cut fails every reader, and the next
    run cuts afresh."""
    from engine.nodes import csvread, kernels

    path = write(tmp_path, "a,b\n" + "".join(f"{i},x{i}\n" for i in range(500)))
    cuts = []
    real = csvread._next_cut

    def counting(*args: Any) -> Any:
        cuts.append(args[1])
        return real(*args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csvread, "_next_cut", counting)
        lazy = csvread.csv_blocks(path, chunk_rows=10, lazy=True)
        assert next(lazy).number == 0 and len(cuts) == 1  # the rest is not cut yet
        assert [b.offset for b in lazy] == [b.offset for b in csv_blocks(path, chunk_rows=10)][1:]

        cuts.clear()
        options = {"chunk_rows": 10}
        first = kernels.csv_blocks_for(path, options)
        assert next(first).number == 0 and len(cuts) == 1
        whole = [0, *(b.number for b in first)]
        taken = len(cuts)
        assert [b.number for b in kernels.csv_blocks_for(path, options)] == whole and len(cuts) == taken

        def failing(*args: Any) -> Any:
            if args[1] > 100:
                raise DataError("the disk went away")
            return real(*args)

        mp.setattr(csvread, "_next_cut", failing)
        other = {"chunk_rows": 11}
        for _ in range(2):  # the same error for a second reader of the same cut
            with pytest.raises(DataError, match="disk went away"):
                list(kernels.csv_blocks_for(path, other))
        mp.setattr(csvread, "_next_cut", real)
    assert len(list(kernels.csv_blocks_for(path, other))) > 40  # a new run cuts again
