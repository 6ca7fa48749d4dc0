"""Two-phase aggregation against plain pandas on the whole table, over random partitionings.

The references are pandas code written here; they never import engine code.
"""

from __future__ import annotations

import itertools
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.nodes.aggregate import AGGREGATES, AggSpec, aggregate, combine, partial
from tests import references

NUMERIC_ONLY = ("sum", "mean", "std", "var", "median")
DAYS = [pd.Timestamp("2024-01-01") + pd.Timedelta(days=d) for d in (0, 3, 40)]
Values = list[tuple[str, str, str | None]]

# --------------------------------------------------------------------------- reference (pandas)


def reference(df: pd.DataFrame, by: list[str], values: Values) -> pd.DataFrame:
    return references.aggregate(df, by, values)


def assert_same(result: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Floats within a relative 1e-9 (summation order), everything else exact."""
    pd.testing.assert_frame_equal(result, expected, check_exact=False, rtol=1e-9)
    exact = [c for c in expected if expected[c].dtype != np.float64]
    pd.testing.assert_frame_equal(result[exact], expected[exact], check_exact=True)


def run(parts: list[pd.DataFrame], by: list[str], values: Values) -> pd.DataFrame:
    spec = AggSpec(by=tuple(by), values=tuple(values))
    return combine([partial(p, spec) for p in parts], spec)


# --------------------------------------------------------------------------------- strategies


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 60))

    def col(elements: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(elements, min_size=n, max_size=n))

    quarter = st.integers(-4000, 4000).map(lambda q: q / 4)  # exact sums; any order gives the same
    return pd.DataFrame(
        {
            "ks": pd.Series(col(st.sampled_from(["b", "a", "c", None])), dtype="str"),
            "kf": pd.Series(col(st.sampled_from([2.0, -1.0, np.nan])), dtype="float64"),
            "kd": pd.Series(col(st.sampled_from([*DAYS[:2], pd.NaT])), dtype="datetime64[us]"),
            "i": pd.Series(col(st.integers(-(10**6), 10**6)), dtype="int64"),
            "f": pd.Series(col(st.one_of(quarter, st.just(np.nan))), dtype="float64"),
            "s": pd.Series(col(st.one_of(st.text("xyz", max_size=3), st.none())), dtype="str"),
            "b": pd.Series(col(st.booleans()), dtype="bool"),
            "d": pd.Series(col(st.sampled_from([*DAYS, pd.NaT])), dtype="datetime64[us]"),
        }
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str], Values, list[pd.DataFrame]]:
    df = draw(frames())
    columns = list(df.columns)
    by = draw(st.lists(st.sampled_from(columns), max_size=2, unique=True))
    numeric = [c for c in columns if df[c].dtype.kind in "ifb"]
    fn_col = st.sampled_from(AGGREGATES).flatmap(
        lambda fn: st.tuples(
            st.just(fn),
            st.sampled_from(numeric if fn in NUMERIC_ONLY else columns)
            if fn != "count"
            else st.one_of(st.none(), st.sampled_from(columns)),
        )
    )
    values = [(f"v{i}", fn, c) for i, (fn, c) in enumerate(draw(st.lists(fn_col, min_size=1, max_size=8)))]
    cuts = sorted(draw(st.lists(st.integers(0, len(df)), max_size=6)))
    bounds = [0, *cuts, len(df)]
    parts = [df.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return df, by, values, parts


# ---------------------------------------------------------------------------------- properties


@given(cases())
def test_combine_random_partitionings_match_pandas_and_repeat_exactly(case: Any) -> None:
    df, by, values, parts = case
    spec = AggSpec(by=tuple(by), values=tuple(values))
    partials = [partial(p, spec) for p in parts]
    result = combine(partials, spec)
    assert_same(result, reference(df, by, values))
    pd.testing.assert_frame_equal(combine(partials, spec), result, check_exact=True)
    shipped = pickle.loads(pickle.dumps(partials))
    pd.testing.assert_frame_equal(combine(shipped, spec), result, check_exact=True)
    pd.testing.assert_frame_equal(aggregate(df, spec), combine([partial(df, spec)], spec), check_exact=True)


# ------------------------------------------------------------------------------ explicit cases


def test_combine_missing_keys_sorted_last() -> None:
    df = pd.DataFrame(
        {
            "k": pd.Series([None, "b", "a", None, "b"], dtype="str"),
            "j": [np.nan, 1.0, np.nan, 2.0, np.nan],
            "x": [1, 2, 3, 4, 5],
        }
    )
    values: Values = [("n", "count", None), ("total", "sum", "x")]
    one = run([df.iloc[:2], df.iloc[2:]], ["k"], values)
    assert one["k"].tolist()[:2] == ["a", "b"] and pd.isna(one["k"].iloc[2])
    assert one["total"].tolist() == [3, 7, 5]
    two = run([df.iloc[:1], df.iloc[1:3], df.iloc[3:]], ["k", "j"], values)
    assert_same(two, reference(df, ["k", "j"], values))
    assert two["total"].tolist() == [3, 2, 5, 4, 1]


def test_aggregate_no_by_empty_input_gives_one_row_with_count_zero() -> None:
    df = pd.DataFrame({"x": pd.Series([], dtype="int64"), "s": pd.Series([], dtype="str")})
    values: Values = [("n", "count", None), ("c", "count", "x"), ("t", "sum", "x"), ("m", "mean", "x")]
    values += [("lo", "min", "x"), ("u", "nunique", "s"), ("f", "first", "s"), ("md", "median", "x")]
    result = aggregate(df, AggSpec(by=(), values=tuple(values)))
    assert len(result) == 1 and result.loc[0, "n"] == 0 and result.loc[0, "t"] == 0
    assert_same(result, reference(df, [], values))
    assert result["f"].dtype == "str" and result["lo"].dtype == np.float64


def test_combine_no_by_with_empty_partitions_keeps_dtypes() -> None:
    df = pd.DataFrame({"x": [3, 1, 2], "b": [True, False, True]})
    values: Values = [("lo", "min", "x"), ("hi", "max", "b"), ("t", "sum", "b")]
    result = run([df.iloc[:0], df.iloc[:2], df.iloc[2:2], df.iloc[2:]], [], values)
    assert_same(result, reference(df, [], values))
    assert result.dtypes.tolist() == [np.int64, np.bool_, np.int64]


def test_combine_sum_of_all_missing_is_zero() -> None:
    df = pd.DataFrame({"k": ["a", "a", "b"], "x": [np.nan, np.nan, 1.5]})
    result = run([df.iloc[:1], df.iloc[1:]], ["k"], [("t", "sum", "x"), ("m", "mean", "x")])
    assert result["t"].tolist() == [0.0, 1.5]
    assert np.isnan(result.loc[0, "m"])


def test_combine_std_of_one_value_is_nan() -> None:
    df = pd.DataFrame({"k": ["a", "b", "b"], "x": [4.0, 1.0, np.nan]})
    result = run([df.iloc[:2], df.iloc[2:]], ["k"], [("s", "std", "x"), ("v", "var", "x")])
    assert result[["s", "v"]].isna().all().all()


def test_combine_first_last_skip_missing_across_partitions() -> None:
    df = pd.DataFrame({"k": ["a"] * 5, "x": [np.nan, np.nan, 2.0, 3.0, np.nan]})
    df["s"] = pd.Series([None, "p", None, "q", None], dtype="str")
    parts = [df.iloc[:2], df.iloc[2:2], df.iloc[2:4], df.iloc[4:]]
    values: Values = [("fx", "first", "x"), ("lx", "last", "x"), ("fs", "first", "s"), ("ls", "last", "s")]
    result = run(parts, ["k"], values)
    assert result.loc[0, ["fx", "lx", "fs", "ls"]].tolist() == [2.0, 3.0, "p", "q"]
    assert_same(result, reference(df, ["k"], values))


def test_combine_int_sum_beyond_float_precision_is_exact() -> None:
    df = pd.DataFrame({"k": [1, 1, 1], "x": [2**60, 1, -(2**60)]})
    values: Values = [("t", "sum", "x"), ("m", "mean", "x")]
    result = run([df.iloc[i : i + 1] for i in range(3)], ["k"], values)
    assert result.loc[0, "t"] == 1 and result["t"].dtype == np.int64


def test_combine_var_with_large_offset_matches_pandas() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"k": rng.integers(0, 3, 500), "x": 1e6 + rng.normal(size=500)})
    values: Values = [("v", "var", "x"), ("s", "std", "x"), ("md", "median", "x"), ("u", "nunique", "k")]
    parts = [df.iloc[a : a + 37] for a in range(0, 500, 37)]
    assert_same(run(parts, ["k"], values), reference(df, ["k"], values))


def test_combine_by_column_also_a_value_counts_missing_key_as_zero() -> None:
    df = pd.DataFrame({"k": pd.Series(["a", None, "a", None], dtype="str")})
    values: Values = [("c", "count", "k"), ("u", "nunique", "k"), ("lo", "min", "k"), ("n", "count", None)]
    result = run([df.iloc[:3], df.iloc[3:]], ["k"], values)
    assert (
        result["c"].tolist() == [2, 0] and result["u"].tolist() == [1, 0] and result["n"].tolist() == [2, 2]
    )
    assert_same(result, reference(df, ["k"], values))


def test_partial_nunique_keeps_only_distinct_pairs() -> None:
    df = pd.DataFrame({"k": [1, 1, 1, 2], "x": ["a", "a", "a", "a"]})
    state = partial(df, AggSpec(by=("k",), values=(("u", "nunique", "x"),)))
    assert len(state.stats) == 2 and len(state.rows[0]) == 2


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ((("a", "sum", "s"),), TypeError),
        ((("a", "nope", "x"),), ValueError),
        ((("a", "min", None),), ValueError),
        ((("a", "min", "x"), ("a", "max", "x")), ValueError),
        ((("x", "min", "x"),), ValueError),
    ],
)
def test_partial_bad_spec_raises(values: Any, error: type[Exception]) -> None:
    df = pd.DataFrame({"x": [1], "s": pd.Series(["a"], dtype="str")})
    with pytest.raises(error):
        partial(df, AggSpec(by=("x",), values=values))


def test_combine_without_partials_raises() -> None:
    with pytest.raises(ValueError, match="at least one partial"):
        combine([], AggSpec(by=(), values=(("n", "count", None),)))


def test_combine_first_last_follow_row_positions_after_hash_split() -> None:
    """A hash split interleaves positions: partition order is not row order."""
    df = pd.DataFrame(
        {"g": ["a", "b", "a", "b", "a", "a"], "v": [np.nan, 1.0, 2.0, 3.0, 4.0, np.nan], "s": list("pqrstu")}
    )
    spec = AggSpec(
        by=("g",), values=(("f", "first", "v"), ("l", "last", "v"), ("fs", "first", "s"), ("ls", "last", "s"))
    )
    parts = [df.iloc[[4, 5]], df.iloc[[0, 1, 2, 3]]]  # the later rows come first
    result = combine([partial(p, spec) for p in parts], spec)
    expected = df.groupby("g", sort=True, dropna=False).agg(
        f=("v", "first"), l=("v", "last"), fs=("s", "first"), ls=("s", "last")
    )
    pd.testing.assert_frame_equal(result, expected.reset_index())
