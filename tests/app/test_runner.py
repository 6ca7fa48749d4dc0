"""app.runner: real `graphmill run` children (done, failed, stopped) and a stand-in engine
for what a real one rarely does (split lines, stray prints, odd exit codes, no Python)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from app.runner import Runner, RunSummary
from app.runpanel import RunPanel
from engine.models import Project

FAKE = Path(__file__).with_name("fake_engine.py")


def project(nodes: list[dict[str, Any]], edges: list[tuple[str, str]]) -> Project:
    from engine.projectfile import loads
    from engine.registry import builtin_registry

    data = {
        "format": "graphmill/1",
        "name": "t",
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in edges],
    }
    return loads(json.dumps(data), builtin_registry())


def pipeline(rows: int, sink: str = "out/stats.csv") -> Project:
    """generate -> clean -> compute (aggregate) -> csv: about 2 s at 4M rows on 2 cores (8 metrics
    samples), a tiny output."""
    return project(
        [
            {"id": "orders", "type": "source.generate", "params": {"rows": rows, "seed": 5}},
            {
                "id": "tidy",
                "type": "clean",
                "params": {
                    "text": [{"column": "customer", "lower": True, "strip": True, "remove": "[^a-z0-9 ]"}],
                    "drop_missing": ["quantity", "price"],
                    "drop_duplicates": ["order_id"],
                },
            },
            {
                "id": "stats",
                "type": "compute",
                "params": {
                    "columns": {"revenue": "quantity * price"},
                    "aggregate": {"by": ["region"], "values": {"n": "count()", "revenue": "sum(revenue)"}},
                },
            },
            {"id": "out", "type": "sink.csv", "params": {"path": sink}},
        ],
        [("orders.out", "tidy.in"), ("tidy.out", "stats.in"), ("stats.out", "out.in")],
    )


class Recorder:
    """Every signal of a runner, in order; the panel's sample count when `finished` came."""

    def __init__(self, runner: Runner, panel: RunPanel | None = None) -> None:
        self.states: dict[str, tuple[str, str]] = {}
        self.history: list[tuple[str, str]] = []
        self.logs: list[tuple[str, str]] = []
        self.samples_at_finish = -1
        self.result: tuple[int, RunSummary] | None = None
        runner.node_state.connect(self.state)
        runner.log.connect(lambda level, text: self.logs.append((level, text)))
        runner.finished.connect(lambda code, summary: self.finish(code, summary, panel))

    def state(self, node: str, state: str, text: str) -> None:
        self.states[node] = (state, text)
        self.history.append((node, state))

    def finish(self, code: int, summary: RunSummary, panel: RunPanel | None) -> None:
        self.result = (code, summary)
        if panel is not None:
            self.samples_at_finish = panel.samples_seen()


def run_and_wait(qtbot, runner: Runner, start, timeout_ms: int = 60_000) -> tuple[int, RunSummary]:
    with qtbot.waitSignal(runner.finished, timeout=timeout_ms) as blocker:
        start()
    code, summary = blocker.args
    return code, summary


def test_runner_real_run_every_node_done_output_written_charts_sampled(qtbot, tmp_path: Path) -> None:
    runner, panel = Runner(), RunPanel()
    qtbot.addWidget(panel)
    panel.attach(runner)
    rec = Recorder(runner, panel)
    code, summary = run_and_wait(qtbot, runner, lambda: runner.run_project(pipeline(4_000_000), tmp_path))
    assert code == 0, (rec.logs, runner.stderr_text)
    assert summary.status == "done" and summary.errors == []
    assert {n: s for n, (s, _) in rec.states.items()} == dict.fromkeys(
        ["orders", "tidy", "stats", "out"], "done"
    )
    assert (tmp_path / "out" / "stats.csv").exists()  # relative to base_dir, not the temporary copy
    assert rec.samples_at_finish >= 3, "the charts held fewer than 3 samples before the run finished"
    assert summary.rows_in == 4_000_000 and summary.rows_out == 6 and summary.peak_memory_bytes > 0
    assert panel.node_row("orders")["rows out"] == 4_000_000
    assert "Done (exit 0)" in panel.summary_text() and "4,000,000 rows in" in panel.summary_text()
    assert summary.preview_dir is not None and (summary.preview_dir / "manifest.json").exists()
    runner.cleanup()
    assert not summary.preview_dir.exists()


def test_runner_failing_node_is_failed_with_the_engines_message(qtbot, tmp_path: Path) -> None:
    runner, panel = Runner(), RunPanel()
    qtbot.addWidget(panel)
    panel.attach(runner)
    rec = Recorder(runner)
    bad = project(
        [
            {"id": "src", "type": "source.generate", "params": {"rows": 20_000}},
            {"id": "split", "type": "partition", "params": {"partitions": 2}},
            {"id": "bad", "type": "clean", "params": {"cast": {"customer": "int64"}}},
            {"id": "out", "type": "sink.csv", "params": {"path": "out.csv"}},
        ],
        [("src.out", "split.in"), ("split.out", "bad.in"), ("bad.out", "out.in")],
    )
    code, summary = run_and_wait(qtbot, runner, lambda: runner.run_project(bad, tmp_path))
    assert code == 1 and summary.status == "failed"
    state, text = rec.states["bad"]
    assert state == "failed" and "customer" in text
    assert rec.states["src"][0] == "done" and rec.states["out"][0] == "waiting"
    assert panel.node_row("bad")["state"] == "failed" and "customer" in panel.node_row("bad")["message"]
    assert "Failed (exit 1)" in panel.summary_text()
    assert not (tmp_path / "out.csv").exists()


def test_runner_invalid_project_exit_2_pins_the_problem_to_the_node(qtbot, tmp_path: Path) -> None:
    runner = Runner()
    rec = Recorder(runner)
    bad = project(
        [
            {"id": "src", "type": "source.generate", "params": {"rows": 10}},
            {"id": "calc", "type": "compute", "params": {"columns": {"x": "customer / 2"}}},
            {"id": "out", "type": "sink.csv", "params": {"path": "out.csv"}},
        ],
        [("src.out", "calc.in"), ("calc.out", "out.in")],
    )
    code, summary = run_and_wait(qtbot, runner, lambda: runner.run_project(bad, tmp_path))
    assert code == 2 and summary.status == "invalid"
    assert rec.states["calc"][0] == "failed" and "customer" in rec.states["calc"][1]
    assert summary.preview_dir is None


def test_runner_stop_exits_130_leaves_no_output_and_no_process(qtbot, tmp_path: Path) -> None:
    runner = Runner()
    rec = Recorder(runner)
    big = pipeline(200_000_000, sink="big.csv")
    with qtbot.waitSignal(runner.node_state, timeout=30_000, check_params_cb=lambda n, s, t: s == "running"):
        runner.run_project(big, tmp_path, ["--backend", "processes", "--workers", "2"])
    pid = runner.pid
    assert pid is not None
    qtbot.waitUntil(lambda: len(psutil.Process(pid).children(recursive=True)) >= 1, timeout=20_000)
    family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    with qtbot.waitSignal(runner.finished, timeout=20_000) as blocker:
        runner.stop()
    code, summary = blocker.args
    assert code == 130 and summary.status == "interrupted", (rec.logs, runner.stderr_text)
    assert not any("killing it" in text for _, text in rec.logs), "SIGINT alone should have stopped it"
    assert not (tmp_path / "big.csv").exists()
    assert not list(tmp_path.glob(".*big.csv*")), "a temporary file was left"
    _, alive = psutil.wait_procs(family, timeout=5)
    assert not alive, f"left running: {alive}"
    assert not runner.running and runner.pid is None
    assert all(state != "running" for state, _ in rec.states.values())


def _fake(tmp_path: Path, **script: Any) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    return path


def test_runner_split_lines_and_stray_output_are_decoded_and_logged(qtbot, tmp_path: Path) -> None:
    runner = Runner(program=[str(FAKE)])
    rec = Recorder(runner)
    events: list[Any] = []
    runner.event.connect(events.append)
    started = '{"v":1,"event":"run_started","t":0,"project":"p","nodes":["a","b"],"backend":"x","workers":1,"pid":1}\n'
    done = '{"v":1,"event":"node_finished","t":1,"node":"a","rows_in":5,"rows_out":4,"partitions":1,"seconds":0.1}'
    chunks = [
        started[:17],
        started[17:] + "hello from a plugin\n",
        done[:30],
        done[30:] + "\n",
        '{"v":1,"event":"future_kind"}\n',
    ]
    chunks.append(
        '{"v":1,"event":"run_finished","t":2,"status":"done","exit_code":0,"seconds":2,"outputs":[]}'
    )  # no newline
    code, _ = run_and_wait(
        qtbot, runner, lambda: runner.run_file(_fake(tmp_path, chunks=chunks, stderr="a warning\n"))
    )
    assert code == 0
    assert [type(e).__name__ for e in events] == ["RunStarted", "NodeFinished", "RunFinished"]
    assert rec.states == {"a": ("done", "4 rows, 0.10 s"), "b": ("waiting", "")}
    assert ("stdout", "hello from a plugin") in rec.logs and ("stderr", "a warning") in rec.logs
    assert runner.stderr_text == "a warning\n"


@pytest.mark.parametrize(
    ("exit_code", "status"),
    [(0, "done"), (1, "failed"), (2, "invalid"), (130, "interrupted"), (3, "crashed")],
)
def test_runner_exit_codes_map_to_statuses(qtbot, tmp_path: Path, exit_code: int, status: str) -> None:
    runner = Runner(program=[str(FAKE)])
    code, summary = run_and_wait(qtbot, runner, lambda: runner.run_file(_fake(tmp_path, exit=exit_code)))
    assert (code, summary.status) == (exit_code, status)


def test_runner_child_that_cannot_start_finishes_with_minus_1(qtbot, tmp_path: Path) -> None:
    runner = Runner(python=str(tmp_path / "no-such-python"))
    rec = Recorder(runner)
    code, summary = run_and_wait(qtbot, runner, lambda: runner.run_file(tmp_path / "p.graphmill.json"))
    assert code == -1 and summary.status == "not started"
    assert any(level == "error" and "cannot start" in text for level, text in rec.logs)
    assert not runner.running


def test_runner_refuses_a_second_run_while_one_is_going_on(qtbot, tmp_path: Path) -> None:
    runner = Runner(program=[str(FAKE)])
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.run_file(_fake(tmp_path, chunks=["x\n"] * 5, pause=0.05))
        with pytest.raises(RuntimeError):
            runner.run_file(tmp_path / "script.json")


def test_runner_child_runs_at_lower_priority_in_its_own_process_group(qtbot, tmp_path: Path) -> None:
    runner = Runner(program=[str(FAKE)], niceness=7)
    seen: dict[str, int] = {}

    def look() -> None:
        pid = runner.pid
        if pid:
            seen.update(nice=psutil.Process(pid).nice() - os.nice(0), pgid=os.getpgid(pid), pid=pid)

    runner.log.connect(lambda level, text: look())  # the child has printed: it is the program now
    run_and_wait(qtbot, runner, lambda: runner.run_file(_fake(tmp_path, chunks=["x\n"], pause=0.3)))
    assert seen["nice"] == 7 and seen["pgid"] == seen["pid"]
    assert sys.executable  # the child is this interpreter (`sys.executable -m engine`)


def test_runner_frozen_child_is_the_bundle_behind_its_launch_argument(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QProcess

    from engine.executable import LAUNCH

    bundle = str(tmp_path / "graphmill")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", bundle)
    started: list[list[str]] = []
    monkeypatch.setattr(QProcess, "start", lambda self: started.append([self.program(), *self.arguments()]))
    runner = Runner(niceness=5)
    runner.run_file(tmp_path / "p.graphmill.json")
    (cmd,) = started
    assert cmd[:5] == [bundle, LAUNCH, "5", bundle, "run"]
    assert cmd[-1] == str(tmp_path / "p.graphmill.json") and "-c" not in cmd and "-m" not in cmd
    assert runner.preview_dir is not None
    shutil.rmtree(runner.preview_dir)  # never started: nothing else to clean up
