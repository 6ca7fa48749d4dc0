"""Execution steps: what a node type does with partitions, free of any scheduling.

A node type's `build(params, ctx)` returns a short list of steps. The executor decides where
each runs (this process, threads, loky processes, later Dask) and in what order; node code never
does. Functions in steps must be picklable with cloudpickle (they may cross process boundaries).

Partitions are pandas DataFrames whose index holds each row's position in the logical table, so
the table is the partitions concatenated and sorted by index. Sources number rows 0, 1, ...; a
hash split keeps positions, so steps that care about input order (first, dedupe) can restore it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .device import ArrayDevice


@dataclass(frozen=True)
class BuildContext:
    """What a node's build function may know: its id, where relative paths resolve, and the
    array device its numeric kernels should use (None: the CPU; engine.device)."""

    node: str
    base_dir: Path
    device: ArrayDevice | None = None

    def path(self, value: str) -> Path:
        from .projectfile import resolve_path

        return resolve_path(self.base_dir, value)


@dataclass(frozen=True)
class Read:
    """A source: yields partitions in order, each indexed by global row position.

    With `load`, `partitions()` yields small picklable descriptions (row spans, byte ranges)
    and `load(description)` makes the frame inside the stage's task: reading then runs in
    parallel and a partition never crosses a process boundary on its way in.

    With `scan` too, the source is read twice: `scan(description)` per partition first (in
    tasks, keeping no data), `combine_scans` of those in partition order here, and then
    `load(description, combined)`: whole-file type inference for CSV, without holding the file.

    With `speculate` too, the executor may parse once instead, where nothing is written before
    the stage ends: `speculate(description)` gives (frame or None, speculation), the frame as
    `load` would give it if the file agrees with this partition; the stage's fused work runs on
    it, the scans (`speculation.scan`) are combined after the stage, and each partition whose
    `speculation.fits(combined)` is false is run again with `load`.
    """

    partitions: Callable[[], Iterator[Any]]
    estimated_rows: int | None = None
    name: str = "read"
    load: Callable[..., pd.DataFrame] | None = None
    scan: Callable[[Any], Any] | None = None
    combine_scans: Callable[[list[Any]], Any] | None = None
    speculate: Callable[[Any], tuple[pd.DataFrame | None, Any]] | None = None


@dataclass(frozen=True)
class Map:
    """Per partition, independent of the others: fusable with neighbouring Maps."""

    fn: Callable[[pd.DataFrame], pd.DataFrame]
    name: str = "map"
    gil: bool = False  # runs Python per row (holds the GIL): under `auto`, its stage uses processes


@dataclass(frozen=True)
class Reduce:
    """`partial` per partition, `combine` of the partials in partition order.

    With `finish`, the combined value is applied back to each partition (a row-preserving
    global step such as dedupe). With `keep`, the partitions stay as they are and the combined
    value is handed to the next Reduce, whose `partial(frame, value)` takes it
    (`takes_previous`): two rounds, e.g. hashes first, then only the candidate rows. Otherwise
    `combine` returns the whole output table (or a list of its partitions).
    """

    partial: Callable[..., Any]
    combine: Callable[[list[Any]], Any]
    finish: Callable[[pd.DataFrame, Any], pd.DataFrame] | None = None
    name: str = "reduce"
    keep: bool = False
    takes_previous: bool = False
    gil: bool = False  # `partial` holds the GIL (see Map.gil)
    filters_rows: bool = False  # `finish` only drops rows (dedupe): the planner may drop unread columns first


@dataclass(frozen=True)
class Exchange:
    """Moves rows between partitions (repartitioning); positions travel with the rows. It may
    return `frames.Pieces` (slices put together inside the next stage's tasks) for frames."""

    fn: Callable[[list[pd.DataFrame]], list[Any]]
    name: str = "exchange"


@dataclass(frozen=True)
class Join:
    """Combines the whole tables of several inputs (merge); returns the output table."""

    fn: Callable[[dict[str, pd.DataFrame]], pd.DataFrame | list[pd.DataFrame]]
    name: str = "join"


@dataclass(frozen=True)
class Write:
    """A sink: writes the whole table, in order, to a temporary file the executor renames."""

    target: Path
    fn: Callable[[Iterator[pd.DataFrame], Path], None]
    overwrite: bool = True
    name: str = "write"


Step = Read | Map | Reduce | Exchange | Join | Write
BuildFunction = Callable[[dict[str, Any], BuildContext], Sequence[Step]]
