"""The event stream: every kind encodes to one JSON line and decodes back."""

from __future__ import annotations

import io
import json

import pytest

from engine.events import (
    EVENTS_VERSION,
    KINDS,
    Emitter,
    ErrorRaised,
    Event,
    JsonLines,
    Metrics,
    NodeFinished,
    NodeStarted,
    PartitionDone,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
    WarningIssued,
    decode,
    encode,
)

SAMPLES: list[Event] = [
    RunStarted(project="p.graphmill.json", nodes=["a", "b"], backend="threads", workers=2, pid=7),
    NodeStarted(node="a", type="clean", stage="s1"),
    StageStarted(stage="s1", nodes=["src", "a"]),
    PartitionDone(
        node="a", stage="s1", partition=3, rows_in=10, rows_out=8, bytes=640, seconds=0.01, worker="pid:7"
    ),
    StageFinished(stage="s1", partitions=4, seconds=0.4),
    NodeFinished(node="a", rows_in=10, rows_out=8, partitions=4, seconds=0.5),
    WarningIssued(message="careful", node="a"),
    ErrorRaised(message="bad value", node="a", column="x", line=12),
    Metrics(
        rows_per_second={"a": 10.5}, rows={"a": 100}, cpu_percent=150.0, memory_bytes=1024, memory_kind="pss"
    ),
    RunFinished(status="done", exit_code=0, seconds=1.5, outputs=["/tmp/o.csv"]),
]


def test_events_every_kind_has_a_sample() -> None:
    assert {type(e) for e in SAMPLES} == set(KINDS.values())


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.kind)
def test_encode_decode_round_trip_one_line(event: Event) -> None:
    line = encode(event)
    assert "\n" not in line
    data = json.loads(line)
    assert (data["v"], data["event"]) == (EVENTS_VERSION, event.kind)
    assert decode(line) == event


def test_decode_unknown_kind_or_key_from_newer_writer_is_tolerated() -> None:
    assert decode('{"v": 2, "event": "stage_spilled", "t": 1}') is None
    event = decode('{"v": 1, "event": "warning", "t": 1, "message": "m", "extra": true}')
    assert event == WarningIssued(t=1, message="m")


def test_emitter_stamps_time_and_writes_json_lines_in_order() -> None:
    stream = io.StringIO()
    emit = Emitter([JsonLines(stream)])
    emit(NodeStarted(node="a", type="clean", stage="a"))
    emit(WarningIssued(message="w"))
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["node_started", "warning"]
    times = [json.loads(line)["t"] for line in lines]
    assert 0 <= times[0] <= times[1]
