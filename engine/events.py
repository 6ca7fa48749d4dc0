"""Run events: typed, versioned, and one JSON object per line on the wire.

The executor emits events to handlers; the terminal progress and `--events jsonl` (which the
designer reads from a child process) are two handlers of the same stream. Every line carries
`"v"` (the stream version, bumped on incompatible changes), `"event"` (the kind) and `"t"`
(seconds since the run started). Readers ignore kinds and keys they do not know.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import IO, Any, ClassVar

EVENTS_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "event"
    t: float = 0.0  # seconds since the run started


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    project: str
    nodes: list[str]
    backend: str
    workers: int
    pid: int
    device: str = "cpu"  # where numeric kernels run: "cpu", "gpu 0: <name>", or per node


@dataclass(frozen=True, kw_only=True)
class NodeStarted(Event):
    kind: ClassVar[str] = "node_started"
    node: str
    type: str
    stage: str


@dataclass(frozen=True, kw_only=True)
class StageStarted(Event):
    kind: ClassVar[str] = "stage_started"
    stage: str  # "s1", "s2", ... as `graphmill run --explain` numbers them
    nodes: list[str]  # the nodes whose work is fused into the stage's tasks


@dataclass(frozen=True, kw_only=True)
class StageFinished(Event):
    kind: ClassVar[str] = "stage_finished"
    stage: str
    partitions: int  # tasks run: one per partition
    seconds: float


@dataclass(frozen=True, kw_only=True)
class PartitionDone(Event):
    kind: ClassVar[str] = "partition_done"
    node: str
    stage: str
    partition: int
    rows_in: int
    rows_out: int
    bytes: int
    seconds: float
    worker: str  # "pid:1234" for local workers, an address for cluster workers


@dataclass(frozen=True, kw_only=True)
class NodeFinished(Event):
    kind: ClassVar[str] = "node_finished"
    node: str
    rows_in: int
    rows_out: int
    partitions: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class WarningIssued(Event):
    kind: ClassVar[str] = "warning"
    message: str
    node: str | None = None


@dataclass(frozen=True, kw_only=True)
class ErrorRaised(Event):
    kind: ClassVar[str] = "error"
    message: str
    node: str | None = None
    column: str | None = None
    line: int | None = None


@dataclass(frozen=True, kw_only=True)
class Metrics(Event):
    kind: ClassVar[str] = "metrics"
    rows_per_second: dict[str, float] = field(default_factory=dict)  # per node, since the last sample
    rows: dict[str, int] = field(default_factory=dict)  # per node, so far
    cpu_percent: float = 0.0  # the whole process tree; 100 = one core busy
    memory_bytes: int = 0
    memory_kind: str = "rss"  # "pss" where the OS reports it (shared pages counted once)


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    status: str  # "done" | "failed" | "interrupted"
    exit_code: int
    seconds: float
    outputs: list[str] = field(default_factory=list)
    spilled_bytes: int = 0  # held frames written to disk over the memory budget (engine.spill)


KINDS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        NodeStarted,
        StageStarted,
        PartitionDone,
        StageFinished,
        NodeFinished,
        WarningIssued,
        ErrorRaised,
        Metrics,
        RunFinished,
    )
}

Handler = Callable[[Event], None]


def encode(event: Event) -> str:
    """One line of JSON, without the newline."""
    return json.dumps({"v": EVENTS_VERSION, "event": event.kind, **asdict(event)}, separators=(",", ":"))


def decode(line: str) -> Event | None:
    """An event from a line; None for kinds this version does not know (newer writers)."""
    data = json.loads(line)
    cls = KINDS.get(data.get("event"))
    if cls is None:
        return None
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


class Emitter:
    """Stamps events with the run clock and passes them to every handler, in order."""

    def __init__(self, handlers: list[Handler] | None = None) -> None:
        self.handlers: list[Handler] = list(handlers or [])
        self.started = time.perf_counter()
        self._lock = threading.Lock()  # the metrics thread emits too; lines must not interleave

    def __call__(self, event: Event) -> None:
        stamped = type(event)(**{**_values(event), "t": round(time.perf_counter() - self.started, 4)})
        with self._lock:
            for handler in self.handlers:
                handler(stamped)


def _values(event: Event) -> dict[str, Any]:
    return {f.name: getattr(event, f.name) for f in fields(event)}


class JsonLines:
    """A handler writing one event per line to a stream (stdout for `--events jsonl`)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(encode(event) + "\n")
        self.stream.flush()
