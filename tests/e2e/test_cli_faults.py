"""Faults in a run with loky process workers: a killed worker, and cancel, leave nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).parents[2]


def _start(tmp_path: Path, rows: int, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    shutil.copy(ROOT / "resources" / "examples" / "orders.graphmill.json", tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "revenue_by_region.csv").write_text("previous\n")
    cmd = [sys.executable, "-m", "engine", "run", "--backend", "processes", "--workers", "2", "--quiet"]
    cmd += ["--events", "jsonl"]
    cmd += ["--set", f"orders.rows={rows}", str(tmp_path / "orders.graphmill.json")]
    # a background job of a non-interactive shell starts with SIGINT ignored
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore)


def _workers(proc: subprocess.Popen[str], seen: set[int]) -> list[psutil.Process]:
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        return []
    seen.update(k.pid for k in kids)
    return [k for k in kids if "LokyProcess" in " ".join(k.cmdline())]


def _wait_for_workers(proc: subprocess.Popen[str], seen: set[int], limit: float = 60) -> list[psutil.Process]:
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        workers = _workers(proc, seen)
        if workers:
            return workers
        time.sleep(0.05)
    raise AssertionError("no loky worker appeared")


def _left_behind(pids: set[int]) -> list[int]:
    time.sleep(1)
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _worker_from_events(proc: subprocess.Popen[str]) -> int:
    """The pid of a worker that has done a partition, as the run's events report it."""
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "run_started":
            parent = event["pid"]
        elif event["event"] == "partition_done" and event["worker"] != f"pid:{parent}":
            return int(event["worker"].removeprefix("pid:"))
    raise AssertionError("the run ended before a worker reported a partition")


def test_run_killed_worker_exit_1_names_node_partition_writes_nothing(tmp_path: Path) -> None:
    proc = _start(tmp_path, 6_000_000)
    seen: set[int] = set()
    victim = _worker_from_events(proc)
    _wait_for_workers(proc, seen)
    os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "a worker process died (killed, or out of memory) on partition" in err
    assert "node '" in err and "Traceback" not in err
    assert (tmp_path / "out" / "revenue_by_region.csv").read_text() == "previous\n"
    assert os.listdir(tmp_path / "out") == ["revenue_by_region.csv"]
    assert _left_behind(seen) == []


@pytest.mark.parametrize("sigint_ignored", [False, True])
def test_run_sigint_with_process_workers_ends_them_all(tmp_path: Path, sigint_ignored: bool) -> None:
    proc = _start(tmp_path, 6_000_000, sigint_ignored)
    seen: set[int] = set()
    _wait_for_workers(proc, seen)
    _worker_from_events(proc)  # mid-run: partitions are being done
    proc.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - signalled < 2.0
    assert proc.returncode == 130, err
    assert "interrupted: no output was written" in err
    assert (tmp_path / "out" / "revenue_by_region.csv").read_text() == "previous\n"
    assert _left_behind(seen) == []
