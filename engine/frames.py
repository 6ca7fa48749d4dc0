"""Helpers over partitions (pandas DataFrames indexed by row position in the logical table)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

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
        return self.parts[0] if len(self.parts) == 1 else pd.concat(self.parts)


def assembled(part: Any) -> Any:
    return part.assemble() if isinstance(part, Pieces) else part


def in_table_order(parts: list[Any]) -> bool:
    """Partitions (or Pieces) already in table order: each increasing, each after the one before
    (a hash split interleaves positions)."""
    frames = [f for p in parts for f in (p.parts if isinstance(p, Pieces) else (p,)) if len(f)]
    if not all(f.index.is_monotonic_increasing for f in frames):
        return False
    return all(a.index[-1] < b.index[0] for a, b in itertools.pairwise(frames))


def split_pieces(parts: list[pd.DataFrame], n: int) -> list[Pieces] | None:
    """`split(ordered(parts), n)` as Pieces, without concatenating; None when that could differ
    (parts out of order, or of different dtypes, which concatenating all of them would unify)."""
    if not parts or not in_table_order(parts) or any(not p.dtypes.equals(parts[0].dtypes) for p in parts):
        return None
    starts = np.cumsum([0, *(len(p) for p in parts)])
    out = []
    for a, b in itertools.pairwise(np.linspace(0, starts[-1], max(1, n) + 1).astype(np.int64)):
        pieces = [
            p.iloc[max(a, lo) - lo : min(b, hi) - lo]
            for p, lo, hi in zip(parts, starts[:-1], starts[1:], strict=True)
            if max(a, lo) < min(b, hi)
        ]
        out.append(Pieces(tuple(pieces) or (parts[0].iloc[:0],)))
    return out
