"""The byte-table fast path for `remove` gives exactly what pandas' regex replace gives."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.nodes.textclass import byte_table, remove_chars

CLASSES = ["[^a-z0-9 ]", "[a-l]", "[^\\]x]", "[^-a]", "[.!?]", "[^A-Za-z]", "[ \\t]", "[^ ]"]
OTHERS = ["[^a-z0-9 ]+", "a|b", "[\\d]", "x", "[é]", "[[:alpha:]]", "[^^]", "[]"]

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@pytest.mark.parametrize("pattern", CLASSES)
def test_single_ascii_classes_take_the_fast_path(pattern: str) -> None:
    assert byte_table(pattern) is not None


@pytest.mark.parametrize("pattern", OTHERS)
def test_other_patterns_go_to_pandas(pattern: str) -> None:
    assert byte_table(pattern) is None


@given(
    st.lists(st.one_of(st.none(), text), max_size=30),
    st.sampled_from(CLASSES + OTHERS[:4]),
    st.integers(0, 5),
)
def test_same_as_pandas_regex_replace(values: list[str | None], pattern: str, start: int) -> None:
    series = pd.Series(values, dtype="str").iloc[start:]  # a slice: Arrow arrays with an offset
    expected = series.str.replace(pattern, "", regex=True)
    pd.testing.assert_series_equal(remove_chars(series, pattern), expected)
    objects = series.astype(object)
    pd.testing.assert_series_equal(
        remove_chars(objects, pattern), objects.str.replace(pattern, "", regex=True)
    )
