"""Helpers over partitions (pandas DataFrames indexed by row position in the logical table)."""

from __future__ import annotations

import itertools

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
