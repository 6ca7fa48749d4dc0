"""The simple executor: runs a validated project node by node on a backend.

Each node's steps (engine.steps) run over its input partitions: Maps and the partial half of a
Reduce go to the backend one task per partition; combines run here, in partition order, so
results are identical whatever the backend or worker count. Sinks write temporary files that are
renamed into place only when every node has succeeded: a failed or interrupted run changes no
existing file. (The streaming, fused executor replaces this one; node code stays the same.)
"""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from .backends import Backend, WorkerLost
from .errors import DataError, GraphmillError
from .events import Event, NodeFinished, NodeStarted, PartitionDone
from .expr import ExprError
from .frames import ordered
from .graph import topological_order
from .models import Project
from .projectfile import write_beside
from .registry import Registry
from .steps import BuildContext, Exchange, Join, Map, Read, Reduce, Step, Write

EventHandler = Callable[[Event], None]


@dataclass
class NodeStats:
    rows_in: int = 0
    rows_out: int = 0
    partitions: int = 0
    seconds: float = 0.0


@dataclass
class RunResult:
    outputs: list[Path] = field(default_factory=list)
    nodes: dict[str, NodeStats] = field(default_factory=dict)
    seconds: float = 0.0


def _quiet(event: Event) -> None:
    pass


@dataclass
class _Progress:
    """Where the current node stands: partition events go out as each task finishes.

    Each step that runs per partition is a stage (`node:step`) with its own partition numbers.
    The rows counter (read by the metrics sampler) counts what enters the node's first stage,
    or what a source reads, so a row is counted once per node.
    """

    node: str
    emit: EventHandler
    rows: dict[str, int]  # rows per node so far
    stage: str = ""
    partition: int = 0
    counted_stage: str | None = None  # the first stage that reported partitions

    def start_stage(self, name: str) -> None:
        self.stage, self.partition = f"{self.node}:{name}", 0

    def done(self, rows_in: int, rows_out: int, nbytes: int, seconds: float, pid: int) -> None:
        self.emit(
            PartitionDone(
                node=self.node,
                stage=self.stage,
                partition=self.partition,
                rows_in=rows_in,
                rows_out=rows_out,
                bytes=nbytes,
                seconds=round(seconds, 6),
                worker=f"pid:{pid}",
            )
        )
        self.partition += 1
        self.counted_stage = self.counted_stage or self.stage
        if self.stage == self.counted_stage:
            self.rows[self.node] = self.rows.get(self.node, 0) + (rows_in or rows_out)


def build_steps(project: Project, registry: Registry, base_dir: Path) -> dict[str, list[Step]]:
    """Every node's steps, built before any data is read (so a bad param fails early)."""
    steps: dict[str, list[Step]] = {}
    for node in project.nodes:
        spec = registry[node.type]
        if spec.build is None:
            raise GraphmillError(
                f"node '{node.id}': node type '{node.type}' cannot run (it has no build function)"
            )
        params = spec.with_defaults(node.given_params())
        steps[node.id] = list(spec.build(params, BuildContext(node.id, base_dir)))
    return steps


def run(
    project: Project,
    registry: Registry,
    base_dir: str | Path,
    backend: Backend,
    on_event: EventHandler = _quiet,
    rows: dict[str, int] | None = None,
) -> RunResult:
    """Run every node; commit all sink files at the end, or none.

    `rows` (node -> rows that entered it, or that a source read, so far) is updated as
    partitions finish, for a metrics sampler.
    """
    rows = {} if rows is None else rows
    started = time.perf_counter()
    base = Path(base_dir)
    order = topological_order(project)
    if order is None:
        raise GraphmillError("the graph has a cycle")
    steps = build_steps(project, registry, base)
    feeds = {(e.target.node, e.target.port): (e.source.node, e.source.port) for e in project.edges}
    consumers = Counter(e.source.node for e in project.edges)
    tables: dict[tuple[str, str], list[pd.DataFrame]] = {}
    pending: list[tuple[str, Path, Path]] = []  # (node, temporary file, target)
    result = RunResult()
    try:
        for node in order:
            spec = registry[node.type]
            inputs = {
                p.name: tables[feeds[(node.id, p.name)]] for p in spec.inputs if (node.id, p.name) in feeds
            }
            on_event(NodeStarted(node=node.id, type=node.type, stage=node.id))
            t0 = time.perf_counter()
            stats = NodeStats(rows_in=sum(_rows(parts) for parts in inputs.values()))
            try:
                progress = _Progress(node.id, on_event, rows)
                parts = _run_node(progress, steps[node.id], inputs, backend, pending)
            except DataError as exc:
                exc.node = exc.node or node.id
                raise
            except WorkerLost as exc:
                msg = f"a worker process died (killed, or out of memory) on partition {exc.index} of stage '{progress.stage}'"
                raise DataError(msg, node=node.id) from exc
            except GraphmillError:
                raise
            except ExprError as exc:
                raise DataError(str(exc), node=node.id) from exc
            except Exception as exc:
                raise DataError(f"{type(exc).__name__}: {exc}", node=node.id) from exc
            for port in spec.outputs:
                tables[(node.id, port.name)] = parts
            stats.rows_out = _rows(parts) if spec.outputs else stats.rows_in
            stats.partitions = len(parts) if spec.outputs else sum(len(p) for p in inputs.values())
            stats.seconds = time.perf_counter() - t0
            result.nodes[node.id] = stats
            on_event(NodeFinished(node=node.id, **asdict(stats)))
            for source in {feeds[(node.id, p.name)][0] for p in spec.inputs if (node.id, p.name) in feeds}:
                consumers[source] -= 1
                if consumers[source] == 0:  # free a table once its last consumer is done
                    for key in [k for k in tables if k[0] == source]:
                        del tables[key]
        result.outputs = commit(pending)
        pending.clear()
    finally:
        for _, tmp, _ in pending:
            tmp.unlink(missing_ok=True)
    result.seconds = time.perf_counter() - started
    return result


def commit(pending: list[tuple[str, Path, Path]]) -> list[Path]:
    """Rename every temporary file into place, or none: a rename that fails puts back the
    files already replaced, so a failed run changes no existing file."""
    backups: list[tuple[Path, Path | None]] = []  # (target, its previous content moved aside)
    try:
        for node, tmp, target in pending:
            backup = None
            if target.exists() or target.is_symlink():
                if target.is_dir():
                    raise DataError(f"cannot write {target}: it is a directory", node=node)
                backup = target.with_name(f".{target.name}.graphmill-backup")
                os.replace(target, backup)
            backups.append((target, backup))
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise DataError(f"cannot write {target}: {exc.strerror or exc}", node=node) from exc
    except BaseException:
        for target, backup in reversed(backups):
            if backup is not None:
                os.replace(backup, target)
            else:
                target.unlink(missing_ok=True)
        raise
    for _, backup in backups:
        if backup is not None:
            backup.unlink(missing_ok=True)
    return [target for _, _, target in pending]


def _rows(parts: Sequence[pd.DataFrame]) -> int:
    return sum(len(p) for p in parts)


def _run_node(
    progress: _Progress,
    steps: list[Step],
    inputs: dict[str, list[pd.DataFrame]],
    backend: Backend,
    pending: list[tuple[str, Path, Path]],
) -> list[pd.DataFrame]:
    parts: list[pd.DataFrame] = next(iter(inputs.values()), [])
    previous: Any = None  # the value a `keep` Reduce hands to the next one
    for step in _fuse(steps):
        progress.start_stage(step.name)
        if isinstance(step, Read):
            parts = []
            for frame, seconds in _timed_iter(step.partitions()):
                parts.append(frame)
                progress.done(0, len(frame), _nbytes(frame), seconds, os.getpid())
        elif isinstance(step, Map):
            parts = _map_partitions(backend, step.fn, parts, progress)
        elif isinstance(step, Reduce):
            partial_fn = partial(step.partial, previous=previous) if step.takes_previous else step.partial
            combined = step.combine(backend.map(partial_fn, parts))
            if step.keep:
                previous = combined
            elif step.finish is None:
                parts = combined if isinstance(combined, list) else [combined]
            else:
                parts = _map_partitions(
                    backend, partial(_apply_finish, step.finish, combined), parts, progress
                )
        elif isinstance(step, Exchange):
            parts = step.fn(parts)
        elif isinstance(step, Join):
            out = step.fn({port: ordered(p) for port, p in inputs.items()})
            parts = out if isinstance(out, list) else [out]
        elif isinstance(step, Write):
            pending.append((progress.node, _write(step, parts), step.target))
            parts = []
    return parts


def _map_partitions(
    backend: Backend,
    fn: Callable[[pd.DataFrame], pd.DataFrame],
    parts: list[pd.DataFrame],
    progress: _Progress,
) -> list[pd.DataFrame]:
    """One task per partition; each reports rows, bytes, seconds and its worker as it finishes."""
    out = []
    for part, (frame, seconds, pid) in zip(parts, backend.imap(partial(_measured, fn), parts), strict=True):
        out.append(frame)
        progress.done(len(part), len(frame), _nbytes(frame), seconds, pid)
    return out


def _measured(
    fn: Callable[[pd.DataFrame], pd.DataFrame], part: pd.DataFrame
) -> tuple[pd.DataFrame, float, int]:
    t0 = time.perf_counter()
    frame = fn(part)
    return frame, time.perf_counter() - t0, os.getpid()


def _timed_iter(frames: Any) -> Any:
    while True:
        t0 = time.perf_counter()
        try:
            frame = next(frames)
        except StopIteration:
            return
        yield frame, time.perf_counter() - t0


def _nbytes(frame: pd.DataFrame) -> int:
    return int(frame.memory_usage(index=False, deep=False).sum())


def _fuse(steps: list[Step]) -> list[Step]:
    """Consecutive Maps become one task per partition: one process crossing, not several."""
    out: list[Step] = []
    for step in steps:
        if isinstance(step, Map) and out and isinstance(out[-1], Map):
            out[-1] = Map(_compose(out[-1].fn, step.fn), f"{out[-1].name}+{step.name}")
        else:
            out.append(step)
    return out


def _apply_finish(finish: Callable[[Any, Any], Any], combined: Any, part: Any) -> Any:
    return finish(part, combined)


def _compose(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda frame: second(first(frame))


def _write(step: Write, parts: list[pd.DataFrame]) -> Path:
    return write_beside(step.target, partial(step.fn, iter(_in_order(parts))))


def _in_order(parts: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Partitions in table order: as they are, unless a hash split interleaved positions."""
    spans = [(p.index[0], p.index[-1]) for p in parts if len(p)]
    in_order = all(p.index.is_monotonic_increasing for p in parts)
    if in_order and all(a[1] < b[0] for a, b in itertools.pairwise(spans)):
        return parts
    return [ordered(parts)]
