"""Row splits as Pieces give exactly the partitions of concatenating, then slicing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from engine.frames import Pieces, assembled, in_table_order, ordered, split, split_pieces
from engine.spill import Spill, Spilled


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


@given(
    st.lists(st.integers(0, 9), min_size=1, max_size=6),
    st.integers(1, 12),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_spilled_parts_split_and_assemble_like_frames(lengths: list[int], n: int, spill: list[bool]) -> None:
    """Held frames written to disk (engine.spill) are sliced without being read, and the
    Pieces put together equal those of the frames in memory."""
    with tempfile.TemporaryDirectory() as folder:
        store = Spill(0, Path(folder))
        parts = [store.hold(p, 1, 0) if s else p for p, s in zip(_parts(lengths), spill, strict=False)]
        assert all(isinstance(p, Spilled) == (s and len(p) > 0) for p, s in zip(parts, spill, strict=False))
        assert in_table_order(parts)
        pieces = split_pieces(parts, n)
        assert pieces is not None
        for got, want in zip(pieces, split(ordered(_parts(lengths)), n), strict=True):
            assert len(got) == len(want)
            pd.testing.assert_frame_equal(assembled(got), want)
        store.close()
        assert not any(Path(folder).iterdir())


def test_spilled_frames_out_of_order_are_seen(tmp_path: Path) -> None:
    a, b = _parts([3, 3])
    store = Spill(0, tmp_path)
    sa, sb = store.hold(a, 1, 0), store.hold(b, 1, 0)
    assert not in_table_order([sb, sa]) and in_table_order([sa, b])
    pieces = split_pieces([sa, sb], 3)  # the middle piece holds the end of a and the start of b
    assert pieces is not None and [type(p).__name__ for p in pieces[1].parts] == ["Slice", "Slice"]
    assert not in_table_order([Pieces((pieces[0].parts[0],)), Pieces((pieces[0].parts[0],))])
    assert split_pieces([sb, sa], 2) is None
    store.close()
