"""app.runpanel with synthetic events: charts fed from ring buffers and redrawn by the timer
only, the failure pinned to its node, the summary kept after the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.runner import NodeProgress, RunSummary
from app.runpanel import Ring, RunPanel, short_number
from engine import events as ev

NODES = ["src", "calc", "out"]


def started(panel: RunPanel) -> None:
    panel.run_started()
    panel.on_event(ev.RunStarted(project="p", nodes=NODES, backend="threads", workers=2, pid=1))


def partition(node: str, i: int, rows: int = 100) -> ev.PartitionDone:
    return ev.PartitionDone(
        node=node, stage="s1", partition=i, rows_in=rows, rows_out=rows, bytes=8, seconds=0.01, worker="pid:1"
    )


def test_ring_keeps_the_last_samples_oldest_first() -> None:
    ring = Ring(4)
    for v in range(6):
        ring.append(v)
    assert ring.view().tolist() == [2, 3, 4, 5]
    assert Ring(3).view().tolist() == []


def test_short_number_tick_labels() -> None:
    assert [short_number(v) for v in (0, 950, 2500, 2_000_000, 3e9)] == ["0", "950", "2.5k", "2M", "3G"]


def test_runpanel_events_never_redraw_the_timer_does(qtbot) -> None:
    panel = RunPanel()
    qtbot.addWidget(panel)
    started(panel)
    before = panel.redraws()
    for i in range(2000):  # a burst: nothing is painted per event
        panel.on_event(partition(NODES[i % 2], i))
        if i % 100 == 0:
            panel.on_metrics(
                ev.Metrics(
                    t=i / 400, rows_per_second={"src": 1e6, "calc": 5e5}, cpu_percent=150, memory_bytes=2**28
                )
            )
    assert panel.redraws() == before
    qtbot.waitUntil(lambda: panel.redraws() > before, timeout=1000)  # 10 Hz
    assert panel.samples_seen() == 20
    assert panel.node_row("src")["partitions"] == 1000 and panel.node_row("src")["rows out"] == 100_000
    x, y = panel.total_curve.getData()
    assert len(x) == 20 and np.allclose(y, 1.5e6)
    assert set(panel.node_curves) == {"src", "calc"}


def test_runpanel_a_node_appearing_late_gets_zeros_before(qtbot) -> None:
    panel = RunPanel(capacity=8)
    qtbot.addWidget(panel)
    started(panel)
    for i in range(10):
        rates = {"src": 10.0} if i < 6 else {"src": 10.0, "calc": 5.0}
        panel.on_metrics(ev.Metrics(t=i * 0.25, rows_per_second=rates))
    panel._refresh()
    assert panel.samples_seen() == 8
    assert panel.node_rates["calc"].view().tolist() == [0, 0, 0, 0, 5, 5, 5, 5]
    x, _ = panel.node_curves["calc"].getData()
    assert len(x) == 8


def test_runpanel_failure_pinned_to_node_and_summary_stays(qtbot) -> None:
    panel = RunPanel()
    qtbot.addWidget(panel)
    selected: list[str] = []
    panel.node_selected.connect(selected.append)
    started(panel)
    panel.on_event(ev.NodeStarted(node="src", type="source.generate", stage="s1"))
    panel.on_event(ev.NodeFinished(node="src", rows_in=0, rows_out=500, partitions=5, seconds=0.5))
    panel.on_event(ev.ErrorRaised(message="division by text", node="calc"))
    panel.on_log("error", "calc: division by text")
    summary = RunSummary(
        exit_code=1,
        status="failed",
        seconds=1.5,
        rows_in=500,
        rows_out=0,
        peak_memory_bytes=300 * 2**20,
        errors=["division by text"],
        nodes={"calc": NodeProgress("calc", state="failed", message="division by text")},
        preview_dir=Path("/nonexistent"),
    )
    panel.on_finished(1, summary)
    assert (
        panel.node_row("calc")["state"] == "failed"
        and panel.node_row("calc")["message"] == "division by text"
    )
    assert panel.node_row("src")["state"] == "done" and panel.node_row("out")["state"] == "waiting"
    text = panel.summary_text()
    assert "Failed (exit 1) in 1.50 s" in text and "500 rows in, 0 rows out" in text and "300.0 MiB" in text
    assert "error: calc: division by text" in panel.log_lines()
    assert panel.table.currentIndex().row() == NODES.index("calc")  # the failing node is selected
    panel.table.clicked.emit(panel.model.index(0, 0))
    assert selected == ["src"]
    assert not panel.timer.isActive()
    panel.reset(NODES)  # the next run starts clean
    assert panel.samples_seen() == 0 and panel.node_row("calc")["state"] == "waiting"
