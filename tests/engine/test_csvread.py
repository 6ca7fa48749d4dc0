"""source.csv's chunked reader against plain pandas: same values and dtypes whatever the chunking."""

from __future__ import annotations

import csv
import io
import pickle
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.errors import DataError
from engine.nodes.csvread import default_chunk_rows, read_csv_chunks, scan_csv

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
    assert sizes == [k] * (rows // k) + [rows % k] * (rows % k > 0) or sizes == [0] == [rows]
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
