"""The `source.generate` orders data: deterministic, chunk- and size-independent, and messy enough."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.nodes.generate import ORDERS_COLUMNS, orders

DTYPES = {"int64": "int64", "datetime": "datetime64[us]", "string": "str", "float64": "float64"}
BLOCK = 65_536


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return orders(100_000, 11)


@st.composite
def splits(draw: st.DrawFn) -> tuple[int, list[int]]:
    rows = draw(st.integers(0, 3000))
    cuts = draw(st.lists(st.integers(0, rows), max_size=8))
    return rows, [0, *sorted(cuts), rows]


@given(splits(), st.integers(-(2**70), 2**70))
def test_orders_any_split_concat_equals_whole(split: tuple[int, list[int]], seed: int) -> None:
    rows, bounds = split
    parts = [orders(rows, seed, a, b) for a, b in pairwise(bounds)]
    for part, (a, b) in zip(parts, pairwise(bounds), strict=True):
        pd.testing.assert_index_equal(part.index, pd.RangeIndex(a, b), exact=True)
    pd.testing.assert_frame_equal(pd.concat(parts), orders(rows, seed))


@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 2**64 - 1))
def test_orders_other_rows_same_prefix(rows: int, more: int, seed: int) -> None:
    pd.testing.assert_frame_equal(orders(rows, seed), orders(rows + more, seed, 0, rows))


def test_orders_bounds_clipped_to_rows() -> None:
    pd.testing.assert_frame_equal(orders(50, 3, 40, 99), orders(50, 3).iloc[40:])
    assert orders(50, 3, 60).index.equals(pd.RangeIndex(50, 50))
    assert orders(50, 3, 30, 20).empty
    with pytest.raises(ValueError, match="rows"):
        orders(-1, 3)


def test_orders_same_seed_identical() -> None:
    pd.testing.assert_frame_equal(orders(2000, 5), orders(2000, 5))


def test_orders_other_seed_different() -> None:
    a, b = orders(2000, 5), orders(2000, 6)
    for column in ("ts", "customer", "region", "quantity", "price", "comment"):
        assert not a[column].equals(b[column]), column


@pytest.mark.parametrize("rows", [0, 1, 1000])
def test_orders_columns_dtypes_exact(rows: int) -> None:
    df = orders(rows, 1)
    assert list(df.columns) == list(ORDERS_COLUMNS)
    assert {c: str(t) for c, t in df.dtypes.items()} == {c: DTYPES[t] for c, t in ORDERS_COLUMNS.items()}
    for column in ("customer", "region", "comment"):
        assert df[column].dtype == pd.StringDtype(na_value=np.nan)


def test_orders_values_in_range(big: pd.DataFrame) -> None:
    ts = big["ts"]
    assert ts.min() >= pd.Timestamp("2024-01-01") and ts.max() < pd.Timestamp("2025-01-01")
    assert (ts.dt.microsecond == 0).all()
    assert set(big["region"].dropna()) == {"north", "south", "east", "west", "central"}
    q = big["quantity"].dropna()
    assert (q == q.round()).all() and q.max() <= 20 and q.min() >= -3
    p = big["price"].dropna()
    assert p.min() >= 0.5 and p.max() <= 500 and (p == p.round(2)).all()
    originals = big[~big.duplicated()]
    assert (originals["order_id"] == originals.index + 1).all()


def test_orders_duplicates_about_two_percent_cross_blocks(big: pd.DataFrame) -> None:
    dup = big.duplicated()
    assert 0.01 <= dup.mean() <= 0.03
    first = big.drop_duplicates().reset_index().set_index("order_id")["index"]
    dups = big[dup]
    origin = first.loc[dups["order_id"]].to_numpy()
    assert (origin < dups.index).all()
    assert (origin // BLOCK < dups.index // BLOCK).any()


@pytest.mark.parametrize(
    ("column", "low", "high"),
    [
        ("customer", 0.005, 0.02),
        ("region", 0.005, 0.02),
        ("quantity", 0.02, 0.045),
        ("price", 0.02, 0.045),
        ("comment", 0.17, 0.23),
    ],
)
def test_orders_missing_rate_roughly_stated(big: pd.DataFrame, column: str, low: float, high: float) -> None:
    assert low <= big[column].isna().mean() <= high


def test_orders_returns_and_empty_comments_present(big: pd.DataFrame) -> None:
    assert 0.005 <= (big["quantity"] <= 0).mean() <= 0.02
    assert (big["comment"] == "").sum() > 100
    assert big[["ts", "order_id"]].notna().all().all()


def test_orders_messy_customers_collapse(big: pd.DataFrame) -> None:
    customer = big["customer"]
    clean = customer.str.lower().str.strip().str.replace(r"[^a-z0-9 ]", "", regex=True)
    assert customer.nunique() > 1000
    assert 40 <= clean.nunique() <= 60
    assert (customer != customer.str.strip()).any() and (customer == customer.str.upper()).any()
