"""Runs a project as a child `graphmill run --events jsonl` and turns its events into Qt signals.

A child process, not a thread: the window never blocks on pandas holding the GIL, Stop can end
the run (and its worker processes) cleanly, a crash in a run cannot take the unsaved canvas with
it, and the GUI and headless runs are one path (DESIGN.md, "How data flows" 6).

Interface (all signals are emitted in the GUI thread, from QProcess's notifications):

- `Runner(parent=None, *, grace_s=3.0, niceness=10, python=None, program=None)`: the child is
  `python program... run ...`, by default `graphmill run ...` as engine.executable spells it
  (`python -m engine`, or the desktop bundle's own executable); `program` is for tests.
- `run_file(path, base_dir=None, extra_args=())`: runs a saved project file.
- `run_project(project, base_dir, extra_args=())`: runs an unsaved `engine.models.Project`
  from a temporary copy, with `--base-dir` set to the project's own folder.
- `stop()`: SIGINT (the engine removes its temporary files and exits 130), then, after
  `grace_s`, SIGKILL to the child's whole process group (loky workers included).
- signals: `started()`, `event(object)` (every engine.events.Event), `node_state(node, state,
  text)` with state in waiting/running/done/failed, `metrics(object)` (events.Metrics),
  `log(level, text)` (level: info, warning, error, stderr, stdout), `finished(exit_code,
  RunSummary)`. Exit codes are the CLI's (0 done, 1 failed, 2 cannot run as written, 130/143
  interrupted); -1 when the child could not start or crashed.
- `preview_dir`: the folder of the last run's previews (`--preview-dir`), kept until the next
  run or `cleanup()`; read it with app.preview.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QTimer, Signal, Slot

from engine import events as ev
from engine.executable import engine_program, launcher_command

STATES = ("waiting", "running", "done", "failed")


@dataclass
class NodeProgress:
    """What the run panel shows for one node; filled from the node's events."""

    node: str
    type: str = ""
    state: str = "waiting"
    text: str = ""
    rows_in: int = 0
    rows_out: int = 0
    partitions: int = 0
    seconds: float = 0.0
    message: str = ""  # the error pinned to a failed node


@dataclass
class RunSummary:
    """The end of a run, as the summary line and the log show it."""

    exit_code: int
    status: str  # done | failed | invalid | interrupted | crashed | not started
    seconds: float = 0.0  # wall time seen from the GUI
    rows_in: int = 0  # rows the sources read
    rows_out: int = 0  # rows the sinks wrote
    peak_memory_bytes: int = 0
    outputs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    preview_dir: Path | None = None
    nodes: dict[str, NodeProgress] = field(default_factory=dict)


def error_text(event: ev.ErrorRaised) -> str:
    """The engine's message, with the column and line it names (the node is shown apart)."""
    where = [f"column '{event.column}'"] if event.column else []
    where += [f"line {event.line}"] if event.line is not None else []
    return f"{', '.join(where)}: {event.message}" if where else event.message


def status_of(exit_code: int) -> str:
    return {0: "done", 1: "failed", 2: "invalid", 130: "interrupted", 143: "interrupted"}.get(
        exit_code, "crashed"
    )


class Runner(QObject):
    """One run at a time of a project in a child process; see the module docstring."""

    started = Signal()
    event = Signal(object)
    node_state = Signal(str, str, str)
    metrics = Signal(object)
    log = Signal(str, str)
    finished = Signal(int, object)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        grace_s: float = 3.0,
        niceness: int = 10,
        python: str | None = None,
        program: Sequence[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.grace_s, self.niceness = grace_s, niceness
        self.python = python or sys.executable
        self.program = engine_program() if program is None else tuple(program)
        self._process: QProcess | None = None
        self._buffer = b""
        self._stderr: list[str] = []
        self._nodes: dict[str, NodeProgress] = {}
        self._last_text: dict[str, float] = {}
        self._peak_memory = 0
        self._outputs: list[str] = []
        self._errors: list[str] = []
        self._t0 = 0.0
        self._stopping = False
        self._killed = False
        self._pid = 0
        self._preview_dir: Path | None = None
        self._project_dir: Path | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

    # ------------------------------------------------------------------------------ interface

    @property
    def running(self) -> bool:
        return self._process is not None

    @property
    def pid(self) -> int | None:
        """The engine process's pid while a run is going on (its process group's id too)."""
        return self._pid or None if self._process is not None else None

    @property
    def preview_dir(self) -> Path | None:
        return self._preview_dir

    def cleanup(self) -> None:
        """Remove the last run's previews (the main window calls it on close)."""
        if self._preview_dir is not None and self._process is None:
            shutil.rmtree(self._preview_dir, ignore_errors=True)
            self._preview_dir = None

    @property
    def stderr_text(self) -> str:
        return "".join(self._stderr)

    def nodes(self) -> dict[str, NodeProgress]:
        return dict(self._nodes)

    def run_file(
        self, path: str | Path, base_dir: str | Path | None = None, extra_args: Sequence[str] = ()
    ) -> None:
        """Start `graphmill run` on a saved project file; refused while a run is going on."""
        if self._process is not None:
            raise RuntimeError("a run is already going on")
        self._reset()
        self._preview_dir = Path(tempfile.mkdtemp(prefix="graphmill-preview-"))
        args = ["run", "--events", "jsonl", "--quiet", "--preview-dir", str(self._preview_dir)]
        if base_dir is not None:
            args += ["--base-dir", str(base_dir)]
        args += [*extra_args, str(path)]
        process = QProcess(self)
        # the child leads a new process group (a kill reaches its workers) at lower priority,
        # then becomes `graphmill run` with the same pid, so QProcess knows the real run
        exe, *words = launcher_command(self.niceness, [self.python, *self.program, *args], self.python)
        process.setProgram(exe)
        process.setArguments(words)
        process.setWorkingDirectory(str(base_dir or Path(path).resolve().parent))
        env = process.processEnvironment()
        if env.isEmpty():
            from PySide6.QtCore import QProcessEnvironment

            env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(env)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.errorOccurred.connect(self._error)
        process.started.connect(self._started)
        process.finished.connect(self._finished)
        self._process = process
        self._t0 = time.perf_counter()
        process.start()

    def run_project(self, project: Any, base_dir: str | Path, extra_args: Sequence[str] = ()) -> None:
        """Run an unsaved Project: a temporary copy, relative paths resolved in `base_dir`."""
        from engine import projectfile

        if self._process is not None:
            raise RuntimeError("a run is already going on")
        self._drop_project_copy()
        self._project_dir = Path(tempfile.mkdtemp(prefix="graphmill-run-"))
        path = self._project_dir / "unsaved.graphmill.json"
        projectfile.save(project, path)
        try:
            self.run_file(path, base_dir, extra_args)
        except BaseException:
            self._drop_project_copy()
            raise

    @Slot()
    def stop(self) -> None:
        """SIGINT now, SIGKILL to the process group after the grace period."""
        if self._process is None or self._stopping:
            return
        self._stopping = True
        pid = self.pid
        if pid:
            self.log.emit("info", "stopping the run...")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
            self._kill_timer.start(int(self.grace_s * 1000))
        else:
            self._process.kill()

    def wait(self, msecs: int = -1) -> bool:
        """Block until the run has ended (a window closing during a run); True when it has."""
        process = self._process
        return process is None or process.waitForFinished(msecs)

    # ------------------------------------------------------------------------------ internals

    def _reset(self) -> None:
        self._buffer = b""
        self._stderr = []
        self._nodes = {}
        self._last_text = {}
        self._peak_memory = 0
        self._outputs = []
        self._errors = []
        self._stopping = self._killed = False
        self._pid = 0
        self.cleanup()

    def _drop_project_copy(self) -> None:
        if self._project_dir is not None:
            shutil.rmtree(self._project_dir, ignore_errors=True)
            self._project_dir = None

    @Slot()
    def _started(self) -> None:
        if self._process is not None:
            self._pid = int(self._process.processId())
        self.started.emit()

    @Slot()
    def _kill(self) -> None:
        if self._process is None:
            return
        self._killed = True
        pid = self.pid
        self.log.emit("warning", f"the run did not stop within {self.grace_s:g} s: killing it")
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self._process.kill()

    @Slot()
    def _read_stdout(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._line(line)

    @Slot()
    def _read_stderr(self) -> None:
        if self._process is None:
            return
        text = bytes(self._process.readAllStandardError().data()).decode("utf-8", "replace")
        self._stderr.append(text)
        for line in text.splitlines():
            if line.strip():
                self.log.emit("stderr", line)

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            return
        try:
            event = ev.decode(text)
        except (ValueError, TypeError) as exc:  # not an event: a stray print, shown as is
            self.log.emit("stdout", text if isinstance(exc, ValueError) else f"{text} ({exc})")
            return
        if event is not None:
            self._handle(event)

    def _node(self, node: str) -> NodeProgress:
        return self._nodes.setdefault(node, NodeProgress(node))

    def _state(self, progress: NodeProgress, state: str, text: str) -> None:
        progress.state, progress.text = state, text
        self.node_state.emit(progress.node, state, text)

    def _handle(self, event: ev.Event) -> None:
        """Keep the per-node picture up to date, then tell the listeners."""
        if isinstance(event, ev.RunStarted):
            for node in event.nodes:
                self._state(self._node(node), "waiting", "")
            self.log.emit("info", f"run started: {event.backend}, {event.workers} workers, pid {event.pid}")
        elif isinstance(event, ev.NodeStarted):
            p = self._node(event.node)
            p.type = event.type
            self._state(p, "running", f"stage {event.stage}")
        elif isinstance(event, ev.PartitionDone):
            p = self._node(event.node)
            p.partitions += 1
            p.rows_in += event.rows_in
            p.rows_out += event.rows_out
            p.seconds += event.seconds
            now = time.perf_counter()
            if now - self._last_text.get(event.node, 0.0) >= 0.1:  # a label, not a per-event repaint
                self._last_text[event.node] = now
                self._state(p, "running", f"{p.partitions} partitions, {p.rows_out:,} rows")
        elif isinstance(event, ev.NodeFinished):
            p = self._node(event.node)
            p.rows_in, p.rows_out = event.rows_in, event.rows_out
            p.partitions, p.seconds = event.partitions, event.seconds
            self._state(p, "done", f"{event.rows_out:,} rows, {event.seconds:.2f} s")
        elif isinstance(event, ev.Metrics):
            self._peak_memory = max(self._peak_memory, event.memory_bytes)
            self.metrics.emit(event)
        elif isinstance(event, ev.WarningIssued):
            where = f"{event.node}: " if event.node else ""
            self.log.emit("warning", f"{where}{event.message}")
        elif isinstance(event, ev.ErrorRaised):
            message = error_text(event)
            self._errors.append(message)
            where = f"{event.node}: " if event.node else ""
            self.log.emit("error", f"{where}{message}")
            if event.node:
                p = self._node(event.node)
                p.message = message
                self._state(p, "failed", message)
        elif isinstance(event, ev.RunFinished):
            self._outputs = list(event.outputs)
            self.log.emit("info", f"run {event.status} in {event.seconds:.2f} s (exit {event.exit_code})")
        self.event.emit(event)

    @Slot(QProcess.ProcessError)
    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            message = f"cannot start the run ({self.python}): {self._process.errorString()}"
            self._errors.append(message)
            self.log.emit("error", message)
            self._done(-1, "not started")

    @Slot(int, QProcess.ExitStatus)
    def _finished(self, code: int, exit_status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        if self._buffer:
            self._line(self._buffer)
            self._buffer = b""
        self._read_stderr()
        if exit_status == QProcess.ExitStatus.CrashExit:
            code = 130 if self._stopping else -1
            status = "interrupted" if self._stopping else "crashed"
            if not self._stopping:
                self._errors.append("the run crashed (killed, or out of memory)")
                self.log.emit("error", self._errors[-1])
        else:
            status = status_of(code)
        self._done(code, status)

    def _done(self, code: int, status: str) -> None:
        process, self._process = self._process, None
        self._kill_timer.stop()
        if process is not None:
            self._reap(process)
            process.deleteLater()
        for p in self._nodes.values():  # nodes the run did not finish
            if p.state == "running":
                self._state(p, "waiting", "stopped" if status == "interrupted" else "not finished")
        sources = sum(p.rows_out for p in self._nodes.values() if p.type.startswith("source."))
        sinks = sum(p.rows_in for p in self._nodes.values() if p.type.startswith("sink."))
        summary = RunSummary(
            exit_code=code,
            status=status,
            seconds=round(time.perf_counter() - self._t0, 3),
            rows_in=sources,
            rows_out=sinks,
            peak_memory_bytes=self._peak_memory,
            outputs=self._outputs,
            errors=list(self._errors),
            preview_dir=self.preview_dir if code in (0, 1) else None,
            nodes={k: NodeProgress(**vars(v)) for k, v in self._nodes.items()},
        )
        self._drop_project_copy()
        self.finished.emit(code, summary)

    def _reap(self, process: QProcess) -> None:
        """No process of the run outlives it: what is left of its group (workers) is killed."""
        if self._pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)
