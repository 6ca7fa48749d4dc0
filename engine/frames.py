"""Helpers over partitions (pandas DataFrames indexed by row position in the logical table)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .spill import Slice, Spilled, load

ROWS_PER_PARTITION = 100_000  # default partition size: from the data, never from the workers


def ordered(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The logical table: partitions concatenated in row-position order."""
    if not parts:
        return pd.DataFrame()
    table = parts[0] if len(parts) == 1 else pd.concat(parts)
    if not table.index.is_monotonic_increasing:
        table = table.sort_index(kind="stable")
    return table


def split(table: pd.DataFrame, n: int) -> list[pd.DataFrame]:
    """`n` contiguous slices of nearly equal size (some may be empty); positions kept."""
    n = max(1, n)
    bounds = np.linspace(0, len(table), n + 1).astype(np.int64)
    return [table.iloc[a:b] for a, b in itertools.pairwise(bounds)]


def renumber(table: pd.DataFrame) -> pd.DataFrame:
    """A new table (aggregate, join, sort output): positions 0..n-1."""
    return table.reset_index(drop=True)


def default_partitions(rows: int) -> int:
    return max(1, -(-rows // ROWS_PER_PARTITION))


@dataclass(frozen=True, eq=False)
class Pieces:
    """A partition assembled where it is used, inside a stage's task: consecutive slices of held
    frames. A row split then copies nothing in the driver, and the copying runs in parallel."""

    parts: tuple[pd.DataFrame, ...]

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def assemble(self) -> pd.DataFrame:
        parts = [load(p) for p in self.parts]
        return parts[0] if len(parts) == 1 else pd.concat(parts)


def assembled(part: Any) -> Any:
    """A partition as a frame: Pieces put together, a spilled frame (engine.spill) read back."""
    return part.assemble() if isinstance(part, Pieces) else load(part)


def in_table_order(parts: list[Any]) -> bool:
    """Partitions (or Pieces, or spilled frames) already in table order: each increasing, each
    after the one before (a hash split interleaves positions)."""
    frames = [f for p in parts for f in (p.parts if isinstance(p, Pieces) else (p,)) if len(f)]
    spans = [_Span.of(f) for f in frames]
    if not all(s.increasing for s in spans):
        return False
    for a, b in itertools.pairwise(spans):
        if a.whole is not None and a.whole is b.whole:  # two slices of one increasing frame
            if a.stop > b.start:
                return False
        elif not a.last < b.first:
            return False
    return True


class _Span(NamedTuple):
    """Where a frame's rows lie: its first and last positions; for a slice of a spilled frame,
    the whole frame's (which bound the slice's) and the slice's row range in it."""

    whole: Spilled | None
    start: int
    stop: int
    first: Any
    last: Any
    increasing: bool

    @classmethod
    def of(cls, part: Any) -> _Span:
        if isinstance(part, Slice):
            f = part.frame
            return cls(f, part.start, part.stop, f.first, f.last, f.increasing)
        if isinstance(part, Spilled):
            return cls(part, 0, len(part), part.first, part.last, part.increasing)
        index = part.index
        return cls(None, 0, len(part), index[0], index[-1], index.is_monotonic_increasing)


def _rows(part: Any, start: int, stop: int) -> Any:
    """Rows [start, stop) of a frame (a view) or of a spilled frame (a Slice, read later)."""
    return Slice(part, start, stop) if isinstance(part, Spilled) else part.iloc[start:stop]


def split_pieces(parts: list[Any], n: int) -> list[Pieces] | None:
    """`split(ordered(parts), n)` as Pieces, without concatenating or reading spilled frames;
    None when that could differ (parts out of order, or of different dtypes, which
    concatenating all of them would unify)."""
    if not parts or not in_table_order(parts) or any(not p.dtypes.equals(parts[0].dtypes) for p in parts):
        return None
    starts = np.cumsum([0, *(len(p) for p in parts)])
    out = []
    for a, b in itertools.pairwise(np.linspace(0, starts[-1], max(1, n) + 1).astype(np.int64)):
        pieces = [
            _rows(p, max(a, lo) - lo, min(b, hi) - lo)
            for p, lo, hi in zip(parts, starts[:-1], starts[1:], strict=True)
            if max(a, lo) < min(b, hi)
        ]
        out.append(Pieces(tuple(pieces) or (_rows(parts[0], 0, 0),)))
    return out
