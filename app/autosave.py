"""Autosave to a recovery file while the project has unsaved changes; recovery on the next start.

One file per running process (`recovery-<pid>.json`) in QStandardPaths' app-data folder, so
two windows never overwrite each other and a file whose process is gone is a crash to offer.
Saving the project, or a clean exit, removes the file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from PySide6.QtCore import QObject, QStandardPaths, QTimer

from engine import projectfile

from .document import Document

RECOVERY_FORMAT = "graphmill-recovery/1"
INTERVAL_MS = 30_000


def recovery_dir() -> Path:
    """`<app data>/recovery` (a test location when QStandardPaths' test mode is on)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".graphmill") / "recovery"


@dataclass(frozen=True)
class Recovery:
    """An autosave left behind by a process that did not exit cleanly."""

    file: Path
    path: Path | None  # the project file it was editing, if it had one
    saved_at: float
    text: str  # the project JSON

    def restore(self, document: Document) -> None:
        """Open the recovered project as unsaved changes to its original file, then forget it."""
        document.load_text(self.text, self.path, modified=True)
        self.discard()

    def discard(self) -> None:
        self.file.unlink(missing_ok=True)


def pending_recovery(directory: Path | None = None) -> Recovery | None:
    """The newest recovery file of a process that is no longer running, or None."""
    directory = directory or recovery_dir()
    found: list[Recovery] = []
    for file in directory.glob("recovery-*.json"):
        try:
            pid = int(file.stem.removeprefix("recovery-"))
            data = json.loads(file.read_text(encoding="utf-8"))
            if data.get("format") != RECOVERY_FORMAT:
                continue
        except (ValueError, OSError):
            continue
        if pid != os.getpid() and psutil.pid_exists(pid) and _is_graphmill(pid):
            continue  # another window is still open and owns it
        path = Path(data["path"]) if data.get("path") else None
        found.append(Recovery(file, path, float(data.get("saved_at", 0)), str(data["project"])))
    return max(found, key=lambda r: r.saved_at, default=None)


def _is_graphmill(pid: int) -> bool:
    try:
        return "graphmill" in " ".join(psutil.Process(pid).cmdline()).lower()
    except psutil.Error:
        return False


class Autosaver(QObject):
    """Writes the document to its recovery file every `interval_ms` while it is modified."""

    def __init__(
        self,
        document: Document,
        interval_ms: int = INTERVAL_MS,
        directory: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.directory = directory or recovery_dir()
        self.file = self.directory / f"recovery-{os.getpid()}.json"
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()
        document.saved.connect(self.clear)
        document.modified_changed.connect(lambda modified: None if modified else self.clear())

    def save_now(self) -> bool:
        """Write the recovery file if there are unsaved changes; True when written."""
        if not self.document.modified:
            return False
        data = {
            "format": RECOVERY_FORMAT,
            "path": str(self.document.path) if self.document.path else None,
            "saved_at": time.time(),
            "project": projectfile.dumps(self.document.project),
        }
        projectfile.write_atomic(self.file, json.dumps(data, indent=1).encode("utf-8"))
        return True

    def clear(self) -> None:
        """Remove the recovery file (after a save, or on a clean exit)."""
        self.file.unlink(missing_ok=True)

    def stop(self) -> None:
        self.timer.stop()
        self.clear()
