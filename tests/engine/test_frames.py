"""Row splits as Pieces give exactly the partitions of concatenating, then slicing."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from engine.frames import Pieces, in_table_order, ordered, split, split_pieces


def _parts(lengths: list[int]) -> list[pd.DataFrame]:
    parts, start = [], 0
    for n in lengths:
        index = pd.RangeIndex(start, start + n)
        parts.append(pd.DataFrame({"x": range(start, start + n), "s": [f"v{i}" for i in index]}, index=index))
        parts[-1]["s"] = parts[-1]["s"].astype("str")
        start += n
    return parts


@given(st.lists(st.integers(0, 9), min_size=1, max_size=6), st.integers(1, 12))
def test_pieces_assemble_to_the_same_partitions(lengths: list[int], n: int) -> None:
    parts = _parts(lengths)
    pieces = split_pieces(parts, n)
    assert pieces is not None and len(pieces) == n
    for got, want in zip(pieces, split(ordered(parts), n), strict=True):
        assert len(got) == len(want)
        pd.testing.assert_frame_equal(got.assemble(), want)


def test_out_of_order_or_mixed_dtypes_are_left_to_concatenation() -> None:
    a, b = _parts([3, 3])
    assert split_pieces([b, a], 2) is None  # a hash split's interleaving
    assert not in_table_order([b, a]) and in_table_order([a, Pieces((b,))])
    mixed = b.astype({"x": "float64"})
    assert split_pieces([a, mixed], 2) is None
