"""Running from the window, as a person does: F5, the nodes' states, the charts, Stop, previews."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.main import MainWindow

from .test_main import build_orders_pipeline, save_with_ctrl_s
from .test_properties import type_into

NODES = ["source_generate_1", "clean_1", "partition_1", "compute_1", "sink_csv_1"]


def press_f5(window: MainWindow, shift: bool = False) -> None:
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    window.canvas.setFocus()
    QTest.keyClick(window, Qt.Key.Key_F5, modifier)


def test_build_save_press_f5_every_node_done_output_written_charts_sampled(
    window,
    qtbot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_orders_pipeline(window, 3_000_000, "price > 490")
    save_with_ctrl_s(window, tmp_path / "built.graphmill.json", monkeypatch)
    control = window.run_control
    samples_at_finish: list[int] = []
    control.runner.finished.connect(lambda *_: samples_at_finish.append(control.panel.samples_seen()))
    with qtbot.waitSignal(control.runner.finished, timeout=120_000) as blocker:
        press_f5(window)
        assert not window.run_action.isEnabled() and window.stop_action.isEnabled()
    code, summary = blocker.args
    assert code == 0, (summary.errors, control.runner.stderr_text)
    out = tmp_path / "out" / "revenue.csv"
    assert out.exists() and summary.outputs and summary.rows_in == 3_000_000
    rows = len(out.read_text().splitlines()) - 1
    assert 0 < rows < 3_000_000 // 50  # the filter kept few rows
    assert {n: window.canvas.node_state(n)[0] for n in NODES} == dict.fromkeys(NODES, "done")
    assert samples_at_finish[0] >= 3, "the charts held fewer than 3 samples before the run finished"
    assert window.run_action.isEnabled() and not window.stop_action.isEnabled()
    # after the run, selecting a node shows its output's first rows
    window.canvas.select(["compute_1"])
    assert control.preview.row_count == rows
    assert ("revenue", "float64") in control.preview.columns


def test_failing_node_shows_its_error_on_the_node(window, qtbot, tmp_path: Path) -> None:
    project = {
        "format": "graphmill/1",
        "name": "fails",
        "nodes": [
            {"id": "src", "type": "source.generate", "params": {"rows": 1000}},
            {"id": "calc", "type": "compute", "params": {"columns": {"x": "customer / 2"}}},
            {"id": "out", "type": "sink.csv", "params": {"path": "out/x.csv"}},
        ],
        "edges": [{"from": "src.out", "to": "calc.in"}, {"from": "calc.out", "to": "out.in"}],
    }
    path = tmp_path / "fails.graphmill.json"
    path.write_text(json.dumps(project))
    window.open_path(path)
    with qtbot.waitSignal(window.run_control.runner.finished, timeout=60_000) as blocker:
        press_f5(window)
    assert blocker.args[0] != 0
    state, text = window.canvas.node_state("calc")
    assert state == "failed" and "customer" in text
    assert not (tmp_path / "out" / "x.csv").exists()


def test_stop_ends_the_run_leaves_no_output_and_no_process(window, qtbot, tmp_path: Path) -> None:
    project = {
        "format": "graphmill/1",
        "name": "long",
        "resources": {"backend": "processes", "workers": 2},
        "nodes": [
            {"id": "src", "type": "source.generate", "params": {"rows": 50_000_000}},
            {"id": "out", "type": "sink.csv", "params": {"path": "out/all.csv"}},
        ],
        "edges": [{"from": "src.out", "to": "out.in"}],
    }
    path = tmp_path / "long.graphmill.json"
    path.write_text(json.dumps(project))
    window.open_path(path)
    runner = window.run_control.runner
    with qtbot.waitSignal(runner.started, timeout=30_000):
        press_f5(window)
    qtbot.waitUntil(lambda: window.canvas.node_state("src")[0] == "running", timeout=30_000)
    engine = psutil.Process(runner.pid)
    processes = [engine, *engine.children(recursive=True)]
    assert len(processes) > 1  # the run's worker processes
    window.canvas.select(["out"])  # editing goes on while it runs
    type_into(window.properties.editors["path"].line, "out/other.csv")
    assert window.document.node("out").params["path"] == "out/other.csv" and runner.running
    t0 = time.monotonic()
    with qtbot.waitSignal(runner.finished, timeout=30_000) as blocker:
        press_f5(window, shift=True)
    assert blocker.args[0] == 130 and time.monotonic() - t0 < 5, blocker.args[1].errors
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    _, alive = psutil.wait_procs(processes, timeout=5)
    assert alive == []
