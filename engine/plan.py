"""The planner: a project's node steps become stages, each run as one task per partition.

Per-partition work is fused across nodes: a source's read, clean's row-local steps, compute's
filter and columns, and the partial half of a Reduce (an aggregate, dedupe's row hashes) run in
one task per partition, so a partition crosses a process boundary at most once per stage. A
stage ends where the whole table is needed: a Reduce's combine, an Exchange, a Join, a sink, or
an output that several nodes read. Between stages the driver combines partials in partition
order and holds only what later stages need (values, named `v1`, `v2`, ...).

The plan is pure data built before any data is read: `graphmill run --explain` prints it, and
`engine.execute` runs it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from .graph import topological_order
from .models import Project
from .registry import Registry, Shape
from .steps import Exchange, Join, Map, Read, Reduce, Step, Write

Ref = int
"""A value the driver holds between operations: frames, partials, or a combined value."""


@dataclass(frozen=True)
class Fn:
    """One node's per-partition function; with `bound`, it also takes that value (a combine's)."""

    node: str
    name: str
    fn: Callable[..., Any]
    bound: Ref | None = None
    gil: bool = False  # holds the GIL: under `auto`, the stage runs in worker processes
    tap: tuple[str, ...] = ()  # a preview tap (keys of engine.preview): the node's output is complete here
    filters_rows: bool = False  # only drops rows: a column projection may run before it, on less data


@dataclass(frozen=True)
class Stage:
    """One task per partition of `source`: `fns` in order, then `partial` of the result.

    Outputs: the frames as value `frames` (when later operations need them), the partials, in
    partition order, as value `partials`, or the frames streamed, in order, to a sink (`write`).
    """

    id: str
    source: Read | Ref
    source_node: str | None  # the node whose Read this is
    fns: tuple[Fn, ...] = ()
    source_bound: Ref | None = None  # the combined scan a two-pass Read's load takes
    partial: Fn | None = None
    frames: Ref | None = None
    partials: Ref | None = None
    write: tuple[str, Write] | None = None

    @property
    def gil(self) -> bool:
        return any(f.gil for f in (*self.fns, self.partial) if f is not None)

    @property
    def nodes(self) -> list[str]:
        names = [self.source_node] if self.source_node else []
        names += [f.node for f in self.fns]
        names += [self.partial.node] if self.partial else []
        names += [self.write[0]] if self.write else []
        return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Combine:
    """A Reduce's combine, here in partition order: a value for later steps, or a table."""

    node: str
    name: str
    fn: Callable[[list[Any]], Any]
    partials: Ref
    out: Ref
    table: bool  # the result is the node's output table (a frame or a list of partitions)

    @property
    def nodes(self) -> list[str]:
        return [self.node]


@dataclass(frozen=True)
class Whole:
    """An Exchange (one input's partitions) or a Join (whole tables by port), here."""

    node: str
    name: str
    fn: Callable[[Any], Any]
    inputs: dict[str, Ref]
    out: Ref
    kind: str  # "exchange" or "join"

    @property
    def nodes(self) -> list[str]:
        return [self.node]


Op = Stage | Combine | Whole


@dataclass
class Plan:
    """Operations in order, and for each node the first and last operation doing its work."""

    ops: list[Op]
    first_op: dict[str, int]
    last_op: dict[str, int]
    last_use: dict[Ref, int]  # the last operation that reads each value: it may be freed after
    project: str = ""
    # with previews: each preview key's (node, port), and the held values that are a node's
    # whole output (an aggregate's, an exchange's, a join's), tapped by the driver
    previews: dict[str, tuple[str, str]] = field(default_factory=dict)
    held_taps: dict[Ref, list[str]] = field(default_factory=dict)

    @property
    def stages(self) -> list[Stage]:
        return [op for op in self.ops if isinstance(op, Stage)]

    def as_dict(self) -> dict[str, Any]:
        """What `--explain --json` prints: stages, fused nodes, and what runs between them."""
        return {"project": self.project, "stages": len(self.stages), "ops": [_op_dict(op) for op in self.ops]}

    def explain(self) -> str:
        """The plan as text, one operation per line (per-partition stages numbered)."""
        lines = [f"plan for '{self.project}': {len(self.stages)} stages, {len(self.ops)} operations"]
        for op in self.ops:
            d = _op_dict(op)
            if isinstance(op, Stage):
                steps = " -> ".join(f"{s['node']}:{s['step']}" for s in d["steps"])
                gil = ", holds the GIL: processes under auto" if op.gil else ""
                lines.append(f"stage {op.id} (one task per partition of {d['input']}{gil}): {steps}")
                outs = [f"frames as {d['frames']}"] if d["frames"] else []
                outs += [f"partials as {d['partials']}"] if d["partials"] else []
                outs += [f"writes {d['write']['path']}"] if d["write"] else []
                lines.append(f"    -> {', '.join(outs) or 'nothing kept'}")
            else:
                ins = ", ".join(d["inputs"])
                lines.append(f"  {d['op']} {op.node}:{op.name} here, of {ins} -> {d['out']}")
        return "\n".join(lines)


def build_plan(
    project: Project, registry: Registry, steps: dict[str, list[Step]], previews: bool = False
) -> Plan:
    """Stages for the whole graph; the symbolic walk the executor then runs.

    With `previews`, each node's output gets a tap where it is complete (before it is projected
    to what its readers use): a step of the task that computes it, or the held value itself.
    """
    order = topological_order(project)
    if order is None:
        raise ValueError("the graph has a cycle")
    builder = _Builder()
    feeds = {(e.target.node, e.target.port): (e.source.node, e.source.port) for e in project.edges}
    readers = Counter((e.source.node, e.source.port) for e in project.edges)
    flows: dict[tuple[str, str], _Flow] = {}
    needed = _needed_columns(project, registry, order, previews)
    for node in order:
        spec = registry[node.type]
        inputs = {p.name: flows[feeds[(node.id, p.name)]] for p in spec.inputs if (node.id, p.name) in feeds}
        out = builder.node(node.id, steps[node.id], inputs)
        if previews and out is not None and spec.outputs:
            names = [p.name for p in spec.outputs]
            keys = {(node.id if len(names) == 1 else f"{node.id}.{n}"): n for n in names}
            builder.previews.update({key: (node.id, port) for key, port in keys.items()})
            out = builder.tap(out, node.id, tuple(keys))
        for port in spec.outputs:
            if out is None:
                continue
            keep = needed.get((node.id, port.name))
            if keep is not None and not _is_exchange(registry, node):
                # what its readers use, before anything is held or sent on (an exchange's input is)
                out = out.projected(Fn(node.id, "project", partial(project_columns, keep=frozenset(keep))))
            if readers[(node.id, port.name)] > 1:  # fan-out: compute once, hold for every reader
                out = builder.hold(out)
            flows[(node.id, port.name)] = out
        if out is not None and not any(readers[(node.id, p.name)] for p in spec.outputs):
            builder.drain(out)  # nobody reads it, but it still runs (and can fail) as written
    return builder.finish(project.name)


def project_columns(frame: Any, keep: frozenset[str]) -> Any:
    """Only the columns later nodes read, in their order (a view: no data is copied)."""
    if len(keep) >= len(frame.columns):
        return frame
    return frame[[c for c in frame.columns if c in keep]]


def _needed_columns(
    project: Project, registry: Registry, order: list[Any], previews: bool = False
) -> dict[tuple[str, str], set[str]]:
    """Per output port, the columns its readers use, where every reader says (`NodeSpec.reads`).

    Walked from the sinks back: an exchange (`partition`) passes on what its own readers need,
    plus its params' columns (a hash key); a reader that does not say needs every column. With
    previews, an exchange takes every column, so that its preview shows its whole output.
    """
    readers: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for e in project.edges:
        readers.setdefault((e.source.node, e.source.port), []).append((e.target.node, e.target.port))
    nodes = {n.id: n for n in project.nodes}
    needed: dict[tuple[str, str], set[str]] = {}
    for node in reversed(order):
        spec = registry[node.type]
        for port in spec.outputs:
            wanted: set[str] | None = set()
            for target, _ in readers.get((node.id, port.name), []):
                used = _input_columns(registry, nodes[target], needed, previews)
                wanted = None if used is None or wanted is None else wanted | used
            if wanted and readers.get((node.id, port.name)):
                needed[(node.id, port.name)] = wanted
    return needed


def _is_exchange(registry: Registry, node: Any) -> bool:
    spec = registry[node.type]
    return spec.execution_shape(spec.with_defaults(node.given_params())) == Shape.EXCHANGE


def _input_columns(
    registry: Registry, node: Any, needed: dict[tuple[str, str], set[str]], previews: bool = False
) -> set[str] | None:
    spec = registry[node.type]
    params = spec.with_defaults(node.given_params())
    if _is_exchange(registry, node):
        if previews:
            return None
        outs = [needed.get((node.id, p.name)) for p in spec.outputs]
        if any(o is None for o in outs):
            return None
        return set().union(*outs) | set(params.get("key") or [])  # type: ignore[arg-type]
    used = spec.reads(params)
    return None if used is None else set(used)


# ----------------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Flow:
    """A node output not computed yet: a source (a Read, or held frames) and work still to do."""

    source: Read | Ref
    source_node: str | None = None
    fns: tuple[Fn, ...] = ()
    source_bound: Ref | None = None

    def then(self, fn: Fn) -> _Flow:
        return replace(self, fns=(*self.fns, fn))

    def projected(self, fn: Fn) -> _Flow:
        """`fn` (a projection) placed before the trailing row filters: they then copy fewer columns."""
        at = len(self.fns)
        while at and self.fns[at - 1].filters_rows:
            at -= 1
        return replace(self, fns=(*self.fns[:at], fn, *self.fns[at:]))


@dataclass
class _Builder:
    ops: list[Op] = field(default_factory=list)
    refs: int = 0
    stage_count: int = 0
    first_op: dict[str, int] = field(default_factory=dict)
    last_op: dict[str, int] = field(default_factory=dict)
    previews: dict[str, tuple[str, str]] = field(default_factory=dict)
    held_taps: dict[Ref, list[str]] = field(default_factory=dict)

    def ref(self) -> Ref:
        self.refs += 1
        return self.refs

    def add(self, op: Op) -> None:
        self.ops.append(op)
        index = len(self.ops) - 1
        for node in op.nodes:
            self.first_op.setdefault(node, index)
            self.last_op[node] = index

    def stage(self, flow: _Flow, **outputs: Any) -> Stage:
        self.stage_count += 1
        sid = f"s{self.stage_count}"
        stage = Stage(sid, flow.source, flow.source_node, flow.fns, flow.source_bound, **outputs)
        self.add(stage)
        return stage

    def hold(self, flow: _Flow) -> _Flow:
        """The flow computed, its frames held: for a barrier, or for several readers."""
        if isinstance(flow.source, Ref) and not flow.fns:
            return flow
        frames = self.ref()
        self.stage(flow, frames=frames)
        return _Flow(frames)

    def scan(self, node: str, read: Read) -> Ref | None:
        """A two-pass source's first pass: a stage of scans, combined here; None for one pass."""
        if read.scan is None or read.combine_scans is None:
            return None
        scans, scanned = self.ref(), self.ref()
        first = replace(read, name="scan", load=None, scan=None, combine_scans=None)
        self.stage(_Flow(first, node), partial=Fn(node, "scan", read.scan), partials=scans)
        self.add(Combine(node, "scan", read.combine_scans, scans, scanned, table=False))
        return scanned

    def tap(self, flow: _Flow, node: str, keys: tuple[str, ...]) -> _Flow:
        """A preview of the flow's frames: a step in the task computing them, or, for a held
        value with no work left to do, a tap the driver takes (no stage is added for it)."""
        if isinstance(flow.source, Ref) and not flow.fns:
            self.held_taps.setdefault(flow.source, []).extend(keys)
            return flow
        return flow.then(Fn(node, "preview", _identity, tap=keys))

    def drain(self, flow: _Flow) -> None:
        if flow.fns or not isinstance(flow.source, Ref):
            self.stage(flow)

    def node(self, node: str, steps: list[Step], inputs: dict[str, _Flow]) -> _Flow | None:
        flow: _Flow | None = next(iter(inputs.values()), None)
        previous: Ref | None = None  # a `keep` Reduce's combined value, for the next Reduce
        for step in steps:
            if isinstance(step, Read):
                flow = _Flow(step, node, source_bound=self.scan(node, step))
            elif flow is None:
                raise ValueError(f"node '{node}': step '{step.name}' has no input")
            elif isinstance(step, Map):
                flow = flow.then(Fn(node, step.name, step.fn, gil=step.gil))
            elif isinstance(step, Reduce):
                fn = partial(_with_previous, step.partial) if step.takes_previous else step.partial
                part = Fn(node, step.name, fn, previous if step.takes_previous else None, step.gil)
                partials, out = self.ref(), self.ref()
                if step.finish is None and not step.keep:  # the combine gives the output table
                    self.stage(flow, partial=part, partials=partials)
                    self.add(Combine(node, step.name, step.combine, partials, out, table=True))
                    flow = _Flow(out)
                    continue
                frames = self.ref() if not isinstance(flow.source, Ref) or flow.fns else flow.source
                self.stage(flow, partial=part, partials=partials, frames=frames)
                self.add(Combine(node, step.name, step.combine, partials, out, table=False))
                flow = _Flow(frames)
                if step.keep:
                    previous = out
                else:
                    finish = Fn(node, step.name, step.finish, out, filters_rows=step.filters_rows)  # type: ignore[arg-type]
                    flow = flow.then(finish)
            elif isinstance(step, Exchange):
                held, out = self.hold(flow), self.ref()
                self.add(Whole(node, step.name, step.fn, {"in": held.source}, out, "exchange"))  # type: ignore[dict-item]
                flow = _Flow(out)
            elif isinstance(step, Join):
                held = {port: self.hold(f).source for port, f in inputs.items()}
                out = self.ref()
                self.add(Whole(node, step.name, step.fn, held, out, "join"))  # type: ignore[arg-type]
                flow = _Flow(out)
            elif isinstance(step, Write):
                self.stage(flow, write=(node, step))
                flow = None
        return flow

    def finish(self, project: str) -> Plan:
        last_use: dict[Ref, int] = {}
        for i, op in enumerate(self.ops):
            for ref in _reads(op):
                last_use[ref] = i
        return Plan(self.ops, self.first_op, self.last_op, last_use, project, self.previews, self.held_taps)


def _identity(frame: Any) -> Any:
    return frame


def _with_previous(fn: Callable[..., Any], frame: Any, previous: Any) -> Any:
    """A Reduce's partial that takes the previous Reduce's combined value (`takes_previous`)."""
    return fn(frame, previous=previous)


def _reads(op: Op) -> list[Ref]:
    if isinstance(op, Stage):
        refs = [op.source] if isinstance(op.source, Ref) else []
        refs += [op.source_bound] if op.source_bound is not None else []
        bound = [f.bound for f in (*op.fns, op.partial) if f is not None and f.bound is not None]
        return refs + bound
    if isinstance(op, Combine):
        return [op.partials]
    return list(op.inputs.values())


def _name(ref: Ref | None) -> str | None:
    return None if ref is None else f"v{ref}"


def _op_dict(op: Op) -> dict[str, Any]:
    if isinstance(op, Stage):
        steps = [{"node": op.source_node, "step": op.source.name}] if isinstance(op.source, Read) else []
        if op.partial is not None and op.partial.name == "scan" and not op.fns:
            steps = []  # a source's first pass: the scan is the whole task
        steps += [{"node": f.node, "step": f.name} for f in op.fns]
        steps += [{"node": op.partial.node, "step": f"{op.partial.name} (partial)"}] if op.partial else []
        steps += [{"node": op.write[0], "step": op.write[1].name}] if op.write else []
        return {
            "op": "stage",
            "id": op.id,
            "nodes": op.nodes,
            "input": f"{op.source_node}:{op.source.name}"
            if isinstance(op.source, Read)
            else _name(op.source),
            "steps": steps,
            "frames": _name(op.frames),
            "partials": _name(op.partials),
            "write": {"node": op.write[0], "path": str(op.write[1].target)} if op.write else None,
            "gil": op.gil,
        }
    if isinstance(op, Combine):
        return {
            "op": "combine",
            "node": op.node,
            "step": op.name,
            "inputs": [_name(op.partials)],
            "out": _name(op.out),
            "table": op.table,
        }
    return {
        "op": op.kind,
        "node": op.node,
        "step": op.name,
        "inputs": [_name(r) for r in op.inputs.values()],
        "out": _name(op.out),
    }
