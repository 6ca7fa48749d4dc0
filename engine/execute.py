"""The executor: runs a plan (engine.plan) on a backend, streaming partitions through stages.

Each stage is one task per partition doing the fused work of several nodes. Sources are read
lazily and the backend keeps only a few tasks in flight per worker, so a stage that ends in a
sink or an aggregate holds no more than the partitions in flight; frames are held only where a
later operation needs them all (dedupe's second pass, an exchange, a join, several readers) and
freed after their last reader. Partials are combined here in partition order, so results are
identical whatever the backend or worker count. Sinks write temporary files that are renamed into
place only when every node has succeeded: a failed or interrupted run changes no existing file.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from .backends import Backend, WorkerLost
from .device import ArrayDevice
from .errors import DataError, GraphmillError
from .events import Event, NodeFinished, NodeStarted, PartitionDone, StageFinished, StageStarted
from .expr import ExprError
from .frames import assembled, in_table_order, ordered
from .models import Project
from .plan import Combine, Fn, Plan, Ref, Stage, Whole, build_plan
from .preview import Previews, head_in_table_order
from .projectfile import write_beside
from .registry import Registry
from .spill import Spill, Spilled, held_bytes
from .steps import BuildContext, Read, Step

EventHandler = Callable[[Event], None]
Pending = list[tuple[str, Path, Path]]  # (node, temporary file, target) of each sink


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
    spilled: int = 0  # bytes of held frames written to disk (engine.spill)


def _quiet(event: Event) -> None:
    pass


def build_steps(
    project: Project,
    registry: Registry,
    base_dir: Path,
    devices: Mapping[str, ArrayDevice | None] | None = None,
) -> dict[str, list[Step]]:
    """Every node's steps, built before any data is read (so a bad param fails early).
    `devices` gives nodes that run numeric kernels on a GPU (engine.device); others use the CPU."""
    devices = devices or {}
    steps: dict[str, list[Step]] = {}
    for node in project.nodes:
        spec = registry[node.type]
        if spec.build is None:
            raise GraphmillError(
                f"node '{node.id}': node type '{node.type}' cannot run (it has no build function)"
            )
        params = spec.with_defaults(node.given_params())
        steps[node.id] = list(spec.build(params, BuildContext(node.id, base_dir, devices.get(node.id))))
    return steps


def plan_project(
    project: Project,
    registry: Registry,
    base_dir: str | Path,
    previews: bool = False,
    devices: Mapping[str, ArrayDevice | None] | None = None,
) -> Plan:
    """The plan `run` would execute (for `--explain`); reads no data."""
    return build_plan(project, registry, build_steps(project, registry, Path(base_dir), devices), previews)


def run(
    project: Project,
    registry: Registry,
    base_dir: str | Path,
    backend: Backend,
    on_event: EventHandler = _quiet,
    rows: dict[str, int] | None = None,
    previews: Previews | None = None,
    devices: Mapping[str, ArrayDevice | None] | None = None,
    memory: int | None = None,
) -> RunResult:
    """Run every operation of the plan; commit all sink files at the end, or none.

    `rows` (node -> rows that entered it, or that a source read, so far) is updated as
    partitions finish, for a metrics sampler. `previews` collects the first rows of every
    node's output (engine.preview); it holds what the finished nodes gave if the run fails.
    `memory` is the budget of held frames in bytes (engine.spill): beyond it they wait on disk;
    not on a Dask cluster, whose workers cannot read this computer's disk.
    """
    started = time.perf_counter()
    plan = plan_project(project, registry, base_dir, previews is not None, devices)
    types = {n.id: n.type for n in project.nodes}
    execution = _Execution(plan, backend, on_event, {} if rows is None else rows, types, previews)
    if backend.name != "dask":
        execution.spill = Spill(memory)
    if previews is not None:
        previews.expect(plan.previews)
    try:
        for index, op in enumerate(plan.ops):
            execution.run_op(index, op)
        execution.result.outputs = commit(execution.pending)
        execution.pending.clear()
    finally:
        for _, tmp, _ in execution.pending:
            tmp.unlink(missing_ok=True)
        execution.spill.close()
        execution.result.spilled = execution.spill.written
    execution.result.seconds = time.perf_counter() - started
    return execution.result


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


def _rows(parts: Iterable[pd.DataFrame]) -> int:
    return sum(len(p) for p in parts)


@dataclass
class _Execution:
    """The driver's state while a plan runs: held values, node statistics, sink files."""

    plan: Plan
    backend: Backend
    emit: EventHandler
    rows: dict[str, int]  # rows that entered each node so far (its first operation)
    types: dict[str, str] = field(default_factory=dict)
    previews: Previews | None = None
    tapped: set[Ref] = field(default_factory=set)  # held outputs already previewed
    values: dict[Ref, Any] = field(default_factory=dict)
    pending: Pending = field(default_factory=list)
    result: RunResult = field(default_factory=RunResult)
    started: dict[str, float] = field(default_factory=dict)
    # a two-pass source's read stage run as one speculative pass -> its scan stage and combine
    speculative: dict[int, tuple[Stage, Combine]] = field(default_factory=dict)
    spill: Spill = field(default_factory=lambda: Spill(None))  # held frames beyond the budget go to disk

    def run_op(self, index: int, op: Stage | Combine | Whole) -> None:
        for node in op.nodes:
            if self.plan.first_op[node] == index:
                self.started[node] = time.perf_counter()
                self.result.nodes[node] = NodeStats()
                stage = op.id if isinstance(op, Stage) else node
                self.emit(NodeStarted(node=node, type=self.types.get(node, ""), stage=stage))
        if isinstance(op, Stage):
            self._stage(index, op)
        elif not any(op is combine for _, combine in self.speculative.values()):
            with _blaming(op.node):
                self._driver_op(index, op)
        if self.previews is not None:
            self._tap_held()
        for ref, last in self.plan.last_use.items():
            if last == index:
                self.values.pop(ref, None)
        for node in op.nodes:
            if self.plan.last_op[node] == index:
                stats = self.result.nodes[node]
                stats.seconds = time.perf_counter() - self.started[node]
                if self.previews is not None:
                    self.previews.finish(node, stats.rows_out)
                self.emit(NodeFinished(node=node, **asdict(stats)))

    def _tap_held(self) -> None:
        """Previews of held outputs (an aggregate's, an exchange's, a join's) as they appear."""
        assert self.previews is not None
        for ref, keys in self.plan.held_taps.items():
            if ref in self.values and ref not in self.tapped:
                self.tapped.add(ref)
                parts = self.values[ref]
                parts = parts if isinstance(parts, list) else [parts]
                in_order = in_table_order(parts)
                for key in keys:
                    self.previews.add_held(key, parts, in_order)

    def _driver_op(self, index: int, op: Combine | Whole) -> None:
        first = self.plan.first_op[op.node] == index
        stats = self.result.nodes[op.node]
        if isinstance(op, Combine):
            out = op.fn(self.values[op.partials])
            if op.table:
                out = out if isinstance(out, list) else [out]
                stats.rows_out, stats.partitions = _rows(out), len(out)
        else:
            # an exchange takes spilled frames as they are (a row split only slices them)
            keep = Spilled if op.kind == "exchange" else ()
            ins = {
                port: [p if isinstance(p, keep) else assembled(p) for p in self.values[ref]]
                for port, ref in op.inputs.items()
            }
            if first:
                stats.rows_in = sum(_rows(parts) for parts in ins.values())
                self.rows[op.node] = stats.rows_in
            if op.kind == "join":
                out = op.fn({port: ordered(parts) for port, parts in ins.items()})
                out = out if isinstance(out, list) else [out]
            else:
                out = op.fn(ins["in"])
            stats.rows_out, stats.partitions = _rows(out), len(out)
        self.values[op.out] = out

    def _stage(self, index: int, stage: Stage) -> None:
        t0 = time.perf_counter()
        self.emit(StageStarted(stage=stage.id, nodes=stage.nodes))
        if self._speculates(index, stage):  # a scan stage done by the read stage: no tasks here
            self.emit(StageFinished(stage=stage.id, partitions=0, seconds=round(time.perf_counter() - t0, 6)))
            return
        scanned = self.speculative.get(index)
        keep = stage.frames is not None and stage.frames != stage.source
        load = stage.source.load if isinstance(stage.source, Read) else None
        if scanned is not None:
            load = stage.source.speculate  # type: ignore[union-attr]
        elif load is not None and stage.source_bound is not None:
            load = partial(_call_bound, load, self.values[stage.source_bound])
        # sources and row-local steps keep row order; only a hash split's output may not be in it
        in_order = not isinstance(stage.source, Ref) or in_table_order(self.values[stage.source])
        taps = [key for f in stage.fns for key in f.tap] if self.previews is not None else []
        task = _Task(
            load=load,
            source_node=stage.source_node,
            fns=tuple(
                (f.node, _Tap(f.tap, self.previews.rows) if f.tap and self.previews else self._bind(f))
                for f in stage.fns
            ),
            partial=(stage.partial.node, self._bind(stage.partial)) if stage.partial else None,
            keep=keep or stage.write is not None,
            sink=stage.write[0] if stage.write else None,
            tapped=bool(taps),
            speculative=scanned is not None,
        )
        counter = _StageCounter(self, index, stage, in_order)
        backend = self.backend.choose(stage.gil)
        items = self._items(index, stage)
        if taps:
            items = _wanting(items, self.previews, taps, in_order)  # type: ignore[arg-type]
        results = counter.track(backend.imap(task, items))
        frames: list[Any] = []  # frames, or spilled ones (engine.spill)
        hold = _Holding(self.spill, sum(held_bytes(v) for v in self.values.values()))
        partials: list[Any] = []
        done: list[_Done] = []  # speculative stages: each task's result, for the replays
        try:
            if stage.write is not None:
                node, write = stage.write
                if in_order:
                    stream: Iterable[pd.DataFrame] = (r.frame for r in results)
                else:
                    stream = [ordered([r.frame for r in results])]
                with _blaming(node):
                    self.pending.append(
                        (node, write_beside(write.target, partial(write.fn, iter(stream))), write.target)
                    )
            else:
                for r in results:
                    if keep:
                        frames.append(hold(r.frame, r.nbytes))
                    if stage.partial is not None:
                        partials.append(r.value)
                    if scanned is not None:
                        done.append(replace(r, frame=None, value=None))
                if scanned is not None:
                    self._replay(stage, scanned[1], task, backend, counter, done, frames, partials, hold)
        except WorkerLost as exc:
            nodes = ", ".join(stage.nodes)
            msg = f"a worker process died (killed, or out of memory) on partition {exc.index} of stage {stage.id} ({nodes})"
            raise DataError(msg, node=stage.nodes[-1]) from exc
        if keep:
            self.values[stage.frames] = frames  # type: ignore[index]
        if stage.partials is not None:
            self.values[stage.partials] = partials
        counter.finish()
        self.emit(
            StageFinished(
                stage=stage.id, partitions=counter.tasks, seconds=round(time.perf_counter() - t0, 6)
            )
        )

    def _speculates(self, index: int, scan: Stage) -> bool:
        """Whether this scan stage is left to the read stage two operations on, which parses each
        block once, speculating that the whole file's types are the block's own (Read.speculate):
        only where that stage writes nothing, so that it can run a block again, and takes no
        previews (they would show the speculated rows)."""
        ops = self.plan.ops[index + 1 : index + 3]
        if len(ops) < 2 or self.previews is not None or not isinstance(scan.source, Read):
            return False
        combine, stage = ops
        if not (isinstance(combine, Combine) and isinstance(stage, Stage) and isinstance(stage.source, Read)):
            return False
        if (
            stage.source.speculate is None
            or combine.partials != scan.partials
            or stage.source_bound != combine.out
            or stage.write is not None
            or self.plan.last_use.get(combine.out) != index + 2
        ):
            return False
        self.speculative[index + 2] = (scan, combine)
        return True

    def _replay(
        self,
        stage: Stage,
        combine: Combine,
        task: _Task,
        backend: Backend,
        counter: _StageCounter,
        done: list[_Done],
        frames: list[Any],
        partials: list[Any],
        hold: _Holding,
    ) -> None:
        """After a speculative stage: the scans combined (the source's plan), and the partitions
        whose speculation does not fit it run again with the plan, their results put in place.
        Their first error is the stage's, as partitions run in order. Events: a partition's rows
        are sent once, and again (as the difference) only where its replay counts others."""
        with _blaming(combine.node):
            combined = combine.fn([d.speculation.scan for d in done])
        self.values[combine.out] = combined
        again = [i for i, d in enumerate(done) if not d.speculation.fits(combined)]
        if not again:
            return
        read: Read = stage.source  # type: ignore[assignment]
        load = partial(_call_bound, read.load, combined)
        replay = replace(task, load=load, speculative=False)
        items = [done[i].speculation.scan.block for i in again]
        for i, r in zip(again, backend.imap(replay, items), strict=True):
            if frames:
                frames[i] = hold(r.frame, r.nbytes)  # type: ignore[arg-type]
            if stage.partial is not None:
                partials[i] = r.value
            counter.recount(i, done[i], r)

    def _bind(self, fn: Fn) -> Callable[[Any], Any]:
        return fn.fn if fn.bound is None else partial(_call_bound, fn.fn, self.values[fn.bound])

    def _items(self, index: int, stage: Stage) -> Iterator[Any]:
        """The stage's partitions, lazily: a source's, or held frames (released as they go when
        this stage is their last reader)."""
        if isinstance(stage.source, Read):
            return _blamed_iter(stage.source_node or "", stage.source.partitions())
        held = self.values[stage.source]
        if self.plan.last_use.get(stage.source) == index and stage.frames != stage.source:
            self.values.pop(stage.source)
            return _draining(deque(held))
        return iter(held)


@dataclass
class _Holding:
    """A stage's kept frames against the run's budget: `held` counts what the run holds in
    memory when the stage starts (its own input too, though it drains: on the safe side) and
    every frame kept in memory since."""

    spill: Spill
    held: int

    def __call__(self, frame: pd.DataFrame | None, nbytes: int) -> Any:
        if frame is None:  # a speculative task whose block runs again
            return None
        kept = self.spill.hold(frame, nbytes, self.held)
        if kept is frame:
            self.held += nbytes
        return kept


def _wanting(items: Iterator[Any], previews: Previews, keys: list[str], in_order: bool) -> Iterator[Any]:
    """Each item with the preview keys its task should hand heads back for: while a head still
    needs rows, asked as the task is handed out (a few in flight may bring more than needed);
    every task's, when the partitions are not in table order (after a hash split)."""
    every = frozenset(keys)
    for item in items:
        yield (previews.wanted(keys) if in_order else every), item


def _draining(queue: deque[Any]) -> Iterator[Any]:
    while queue:
        yield queue.popleft()


@dataclass
class _StageCounter:
    """Per-partition events as tasks finish, and each node's totals for the stage."""

    execution: _Execution
    index: int
    stage: Stage
    in_order: bool = True
    tasks: int = 0
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # nodes, in task order

    def track(self, results: Iterator[_Done]) -> Iterator[_Done]:
        for done in results:
            for node, rows_in, rows_out in done.counts:
                self._count(self.tasks, done, node, rows_in, rows_out)
            if done.heads:
                for key, head in done.heads.items():
                    self.execution.previews.add(key, head, self.in_order)  # type: ignore[union-attr]
            self.tasks += 1
            yield done

    def recount(self, partition: int, before: _Done, after: _Done) -> None:
        """A partition run again: the rows it counts now, less those already sent for it."""
        sent = {node: (a, b) for node, a, b in before.counts}
        for node, rows_in, rows_out in after.counts:
            was_in, was_out = sent.get(node, (0, 0))
            if node in sent and (rows_in, rows_out) == (was_in, was_out):
                continue
            self._count(partition, after, node, rows_in - was_in, rows_out - was_out)

    def _count(self, partition: int, done: _Done, node: str, rows_in: int, rows_out: int) -> None:
        """One node's rows of one partition: its event, and the running totals."""
        self.execution.emit(
            PartitionDone(
                node=node,
                stage=self.stage.id,
                partition=partition,
                rows_in=rows_in,
                rows_out=rows_out,
                bytes=done.nbytes,
                seconds=round(done.seconds, 6),
                worker=f"pid:{done.pid}",
            )
        )
        self.rows_in[node] = self.rows_in.get(node, 0) + rows_in
        self.rows_out[node] = self.rows_out.get(node, 0) + rows_out
        if self.execution.plan.first_op[node] == self.index:
            rows = self.execution.rows
            rows[node] = rows.get(node, 0) + (rows_in or rows_out)

    def finish(self) -> None:
        for node in self.stage.nodes:
            stats = self.execution.result.nodes[node]
            if self.execution.plan.first_op[node] == self.index:
                stats.rows_in = self.rows_in.get(node, 0)
            stats.rows_out, stats.partitions = self.rows_out.get(node, 0), self.tasks


@dataclass(frozen=True)
class _Done:
    frame: pd.DataFrame | None
    value: Any
    counts: list[tuple[str, int, int]]  # (node, rows in, rows out) for each node of the task
    nbytes: int
    seconds: float
    pid: int
    heads: dict[str, pd.DataFrame] | None = None  # preview key -> the head of the output here
    speculation: Any = None  # a speculative task's (Read.speculate); `fits` nothing where it failed


@dataclass(frozen=True)
class _Tap:
    """Where a node's output is complete inside a task: hands back its first rows (previews)."""

    keys: tuple[str, ...]
    rows: int


@dataclass(frozen=True)
class _Task:
    """One partition through a stage: load, the fused functions, a partial; picklable."""

    load: Callable[[Any], pd.DataFrame] | None
    source_node: str | None
    fns: tuple[tuple[str, Callable[[pd.DataFrame], pd.DataFrame]], ...]
    partial: tuple[str, Callable[[pd.DataFrame], Any]] | None
    keep: bool
    sink: str | None = None  # the sink node the frames go to (counted here, written by the driver)
    tapped: bool = False  # items come as (preview keys wanted, item)
    speculative: bool = False  # `load` is a Read's `speculate`: errors after it are the replay's

    def __call__(self, item: Any) -> _Done:
        t0 = time.perf_counter()
        if not self.speculative:
            return self._run(item, t0)
        with _blaming(self.source_node or ""):
            frame, speculation = self.load(item)  # type: ignore[misc]
        if frame is not None:  # else the block is read again after the stage
            try:
                return replace(self._run(frame, t0, loaded=True), speculation=speculation)
            except Exception:  # raised again, if at all, by the replay with the whole file's types
                pass
        speculation.alone = None
        return _Done(None, None, [], 0, time.perf_counter() - t0, os.getpid(), None, speculation)

    def _run(self, item: Any, t0: float, loaded: bool = False) -> _Done:
        counts: dict[str, list[int]] = {}
        heads: dict[str, pd.DataFrame] | None = None
        if self.tapped:
            wanted, item = item
            heads = {}
        if self.source_node is not None:
            with _blaming(self.source_node):
                frame = self.load(item) if self.load is not None and not loaded else item
            counts[self.source_node] = [0, len(frame) if isinstance(frame, pd.DataFrame) else 0]
        else:
            frame = assembled(item)  # a row split's Pieces are put together here, in the task
        for node, fn in self.fns:
            if isinstance(fn, _Tap):
                if heads is not None:
                    heads.update({k: head_in_table_order(frame, fn.rows) for k in fn.keys if k in wanted})
                continue
            rows = len(frame)
            with _blaming(node):
                frame = fn(frame)
            counts.setdefault(node, [rows, 0])[1] = len(frame)
        value = None
        if self.partial is not None:
            node, fn = self.partial
            with _blaming(node):
                value = fn(frame)
            if isinstance(frame, pd.DataFrame):
                counts.setdefault(node, [len(frame), 0])[1] = len(frame)
        if self.sink is not None:
            counts[self.sink] = [len(frame), len(frame)]
        out = frame if self.keep else None
        return _Done(
            out,
            value,
            [(node, a, b) for node, (a, b) in counts.items()],
            _nbytes(frame),
            time.perf_counter() - t0,
            os.getpid(),
            heads,
        )


@contextmanager
def _blaming(node: str) -> Iterator[None]:
    """Errors of a node's code name the node; a user's mistake never shows a traceback."""
    try:
        yield
    except DataError as exc:
        exc.node = exc.node or node
        raise
    except (GraphmillError, WorkerLost):
        raise
    except ExprError as exc:
        raise DataError(str(exc), node=node) from exc
    except Exception as exc:
        raise DataError(f"{type(exc).__name__}: {exc}", node=node) from exc


def _blamed_iter(node: str, items: Iterator[Any]) -> Iterator[Any]:
    while True:
        with _blaming(node):
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


def _call_bound(fn: Callable[[Any, Any], Any], value: Any, frame: Any) -> Any:
    return fn(frame, value)


def _nbytes(frame: Any) -> int:
    if not isinstance(frame, pd.DataFrame):  # a source's description, in its scan pass
        return 0
    return int(frame.memory_usage(index=False, deep=False).sum())
