"""`graphmill gui --self-test DIR` (hidden): the designer checks itself, then quits.

For the desktop bundle, where the unit tests cannot reach: it builds the real main window,
opens a copy of the bundled orders example in DIR, sets the project's resources to loky
process workers through the undo stack, saves, runs it with Run (F5) as a user would, and
checks that the child run finished with exit 0, wrote the expected file, and ran partitions in
worker processes other than the run's own. Prints one line per check; exit 0 when all pass, 1
otherwise (also when the run takes longer than `timeout_s`). Settings and recent files go to
Qt's test locations, never the user's.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, QTimer

from engine import events as ev
from engine.bundled import example
from engine.models import Resources
from engine.registry import Registry

OUTPUT = Path("out") / "revenue_by_region.csv"  # what the orders example writes


@dataclass
class _Seen:
    """What the self-test saw of the run."""

    code: int | None = None
    summary: Any = None
    run_pid: int = 0
    backend: str = ""
    workers: int = 0
    worker_pids: set[int] = field(default_factory=set)
    timed_out: bool = False


def self_test(
    workdir: Path, registry: Registry, *, backend: str = "processes", workers: int = 2, timeout_s: float = 180
) -> int:
    """Run the designer's self-test in `workdir`; returns the exit code (0: every check passed)."""
    from .main import MainWindow, application

    app = application()
    QStandardPaths.setTestModeEnabled(True)
    workdir.mkdir(parents=True, exist_ok=True)
    project = workdir / example("orders").name
    shutil.copyfile(example("orders"), project)
    (workdir / OUTPUT).unlink(missing_ok=True)

    checks: list[tuple[str, bool]] = []
    t0 = time.perf_counter()
    window = MainWindow(registry, recovery_dir=workdir / "recovery")
    window.show()
    icon = app.windowIcon()
    checks.append(("window icon renders", not icon.isNull() and not icon.pixmap(64, 64).isNull()))
    checks.append(("project opens", window.open_path(project, ask=False)))
    nodes = len(window.document.project.nodes)
    checks.append((f"canvas shows the {nodes} nodes", len(window.canvas.graph.all_nodes()) == nodes > 0))
    window.document.set_resources(Resources(backend=backend, workers=workers))
    checks.append(("resources set and saved", window.save() and not window.document.modified))
    built = time.perf_counter() - t0
    checks.append((f"window built on Qt's {app.platformName()!r} platform in {built:.2f} s", True))

    seen = _Seen()
    runner = window.run_control.runner

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            seen.run_pid, seen.backend, seen.workers = event.pid, event.backend, event.workers
        elif isinstance(event, ev.PartitionDone) and event.worker.startswith("pid:"):
            seen.worker_pids.add(int(event.worker[4:]))

    def on_finished(code: int, summary: Any) -> None:
        seen.code, seen.summary = code, summary
        QTimer.singleShot(0, app.quit)

    def on_timeout() -> None:
        seen.timed_out = True
        runner.stop()  # SIGINT, then a kill after the grace period; `finished` quits
        give_up.start(int(runner.grace_s * 1000) + 2000)

    runner.event.connect(on_event)
    runner.finished.connect(on_finished)
    deadline, give_up = QTimer(window), QTimer(window)
    for timer in (deadline, give_up):
        timer.setSingleShot(True)
    deadline.timeout.connect(on_timeout)
    give_up.timeout.connect(app.quit)
    deadline.start(int(timeout_s * 1000))
    QTimer.singleShot(0, window.run_action.trigger)  # F5, once the event loop runs
    t_run = time.perf_counter()
    app.exec()
    deadline.stop()
    give_up.stop()

    summary = seen.summary
    errors = "; ".join(summary.errors) if summary is not None and summary.errors else ""
    checks.append((f"run finished within {timeout_s:g} s", not seen.timed_out and seen.code is not None))
    checks.append(
        (
            f"run exit code {seen.code} in {time.perf_counter() - t_run:.2f} s{' (' + errors + ')' if errors else ''}",
            seen.code == 0,
        )
    )
    checks.append(
        (
            f"backend {seen.backend!r}, {seen.workers} workers",
            (seen.backend, seen.workers) == (backend, workers),
        )
    )
    others = sorted(seen.worker_pids - {seen.run_pid})
    want_others = backend == "processes" and workers > 1
    checks.append((f"partitions ran in worker processes {others}", bool(others) or not want_others))
    output = workdir / OUTPUT
    lines = output.read_text(encoding="utf-8").count("\n") if output.is_file() else 0
    checks.append((f"wrote {output} ({lines} lines)", lines > 1))

    window.close()
    window.deleteLater()
    ok = all(passed for _, passed in checks)
    for text, passed in checks:
        print(f"self-test: {'ok  ' if passed else 'FAIL'} {text}", flush=True)
    if summary is not None and seen.code != 0:
        print(runner.stderr_text, flush=True)
    print(f"self-test: {'passed' if ok else 'FAILED'}", flush=True)
    return 0 if ok else 1
