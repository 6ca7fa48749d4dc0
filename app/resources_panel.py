"""The resources panel: where a project runs (backend, workers, device, memory, Dask scheduler).

It edits an `engine.models.Resources` (FORMAT.md, `resources`) and never saves it: the owner
connects `changed` to `Document.set_resources`. Fields the project does not set stay unset, so
loading a project's resources and reading them back gives the same object (a project written
without `resources` does not gain them by being shown).

The GPU choice is offered only when `engine.machine` finds a GPU (`graphmill resources`);
otherwise it is disabled and the reason is shown beside it.

Interface:

- `ResourcesPanel(parent=None, *, machine=None)`: `machine` is an `engine.machine.Machine`
  (tests pass one); by default the machine is probed once, here.
- `set_resources(resources | None)` (slot): shows them; emits nothing.
- `resources() -> Resources | None`: what the panel shows; None when nothing is set.
- signal `changed(object)`: a `Resources` or None, after each edit by the user.
- read-only: `gpu_available`, `gpu_reason` (why the GPU choice is disabled, "" if it is not).
- `check_cluster()` (slot, the "Check" button beside the scheduler): asks the scheduler for
  its workers through `graphmill resources --scheduler ADDR --json` in a child process (the
  GUI never imports Dask) and shows the answer; signal `cluster_checked(dict | str)` gives the
  JSON, or the error line.
- `base_dir`: a callable giving the project's folder, where relative TLS paths resolve.

TLS files (`resources.security`) are written only when the user types all three; a project's
own are kept as they are, and never shown elsewhere. Memory (`resources.memory`: how much held
data stays in memory before it waits on disk) is written when it reads as a size or `auto`;
anything else is shown as an error beside it and leaves the project's value as it was.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, Qt, Signal, Slot
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.executable import engine_program
from engine.models import Resources, Security, parse_size

BACKENDS = {
    "auto": "auto: threads, or processes where a step holds the GIL",
    "sequential": "sequential: one partition at a time, in one process",
    "threads": "threads",
    "processes": "processes (loky)",
    "dask": "dask: a Dask cluster (scheduler address below)",
}
DEVICES = {"cpu": "CPU", "gpu": "GPU", "auto": "auto: the GPU when there is one"}
FIELDS = ("backend", "workers", "device", "memory", "scheduler", "security")
MEMORY_CHOICES = ("auto", "256MB", "1GB", "4GB")
TLS = {"ca": "CA certificate", "cert": "client certificate", "key": "client key"}
ENGINE = (sys.executable, *engine_program())  # `graphmill`, from Python or in the bundle


def _gpu_reason(machine: Any) -> str:
    """Why there is no GPU choice: the line `graphmill resources` prints about GPUs."""
    if machine.gpus:
        return ""
    from engine.machine import describe

    line = next((line for line in describe(machine) if line.startswith("gpus")), "")
    found = line.partition("none found")[2].strip(" ()")
    return f"no GPU found ({found})" if found else "no GPU found"


class ResourcesPanel(QWidget):
    """Backend, workers, device and scheduler of a project; see the module docstring."""

    changed = Signal(object)
    cluster_checked = Signal(object)

    def __init__(
        self, parent: QWidget | None = None, *, machine: Any = None, engine: tuple[str, ...] = ENGINE
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.base_dir: Callable[[], Path] = Path.cwd
        self._probe: QProcess | None = None
        if machine is None:
            from engine.machine import machine as probe

            machine = probe()
        self.machine = machine
        self.gpu_available = bool(machine.gpus)
        self.gpu_reason = _gpu_reason(machine)
        self._set: set[str] = set()  # fields the project sets (loaded, or edited here)
        self._security: Security | None = None
        self._memory = "auto"  # the last memory setting that reads as one
        self._loading = False

        self.backend = QComboBox()
        for name, text in BACKENDS.items():
            self.backend.addItem(text, name)
        self.workers = QSpinBox()
        self.workers.setRange(0, max(256, machine.logical_cpus * 4))
        self.workers.setSpecialValueText(f"auto ({machine.cores} cores)")
        self.workers.setToolTip("0 is auto: every core this process may use")
        self.device = QComboBox()
        for name, text in DEVICES.items():
            self.device.addItem(text, name)
        self.device_note = QLabel()
        self.device_note.setWordWrap(True)
        self.memory = QComboBox()
        self.memory.setEditable(True)
        self.memory.addItems(MEMORY_CHOICES)
        self.memory.setToolTip(
            "Data held for a whole-table step (dedupe, a row split, a join) beyond this size waits "
            "on disk; auto is 64 MB. A size such as 512MB or 2GB."
        )
        self.memory_note = QLabel()
        self.memory_note.setWordWrap(True)
        self.memory_note.setStyleSheet("color: #c0392b;")
        self.scheduler = QLineEdit()
        self.scheduler.setPlaceholderText("tcp://127.0.0.1:8786, or local")
        self.scheduler.setClearButtonEnabled(True)
        self.check = QPushButton("Check")
        self.check.setToolTip("Ask the scheduler for its workers, threads and memory")
        self.cluster_note = QLabel()
        self.cluster_note.setWordWrap(True)
        self.cluster_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tls = {}
        for key, what in TLS.items():
            edit = QLineEdit()
            edit.setPlaceholderText(f"{what} file (tls:// only)")
            edit.setClearButtonEnabled(True)
            self.tls[key] = edit
        self.machine_note = QLabel(
            f"This computer: {machine.cores} cores, {machine.memory_total / 1024**3:.1f} GiB"
        )
        self.machine_note.setEnabled(False)
        if not self.gpu_available:
            model = self.device.model()
            assert isinstance(model, QStandardItemModel)
            for i in range(self.device.count()):
                if self.device.itemData(i) == "gpu":
                    item = model.item(i)
                    item.setEnabled(False)
                    item.setToolTip(self.gpu_reason)
            self.device_note.setText(self.gpu_reason)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Backend", self.backend)
        form.addRow("Workers", self.workers)
        form.addRow("Device", self.device)
        form.addRow("", self.device_note)
        form.addRow("Memory", self.memory)
        form.addRow("", self.memory_note)
        row = QHBoxLayout()
        row.addWidget(self.scheduler, 1)
        row.addWidget(self.check)
        form.addRow("Scheduler", row)
        form.addRow("", self.cluster_note)
        for key, edit in self.tls.items():
            form.addRow(f"TLS {key}", edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.machine_note)
        layout.addStretch(1)

        self.backend.currentIndexChanged.connect(lambda _: self._edited("backend"))
        self.workers.valueChanged.connect(lambda _: self._edited("workers"))
        self.device.currentIndexChanged.connect(lambda _: self._edited("device"))
        self.memory.activated.connect(lambda _: self._memory_edited())
        self.memory.lineEdit().editingFinished.connect(self._memory_edited)
        self.scheduler.editingFinished.connect(self._scheduler_edited)
        self.scheduler.textChanged.connect(lambda _: self._update_enabled())
        self.check.clicked.connect(self.check_cluster)
        for edit in self.tls.values():
            edit.editingFinished.connect(self._tls_edited)
        self.set_resources(None)

    # ------------------------------------------------------------------------------ interface

    @Slot(object)
    def set_resources(self, resources: Resources | None) -> None:
        """Show `resources` (None: a project without them); emits nothing."""
        r = resources or Resources()
        self._loading = True
        try:
            self._set = {f for f in FIELDS if getattr(r, f) is not None}
            self.backend.setCurrentIndex(max(0, self.backend.findData(r.backend or "auto")))
            self.workers.setValue(r.workers if isinstance(r.workers, int) else 0)
            self.device.setCurrentIndex(max(0, self.device.findData(r.device or "cpu")))
            self._memory = r.memory or "auto"
            self.memory.setCurrentText(self._memory)
            self.memory_note.clear()
            self.scheduler.setText(r.scheduler or "")
            self._security = r.security
            for key, edit in self.tls.items():
                edit.setText(getattr(r.security, key) if r.security else "")
        finally:
            self._loading = False
        self._update_enabled()

    def resources(self) -> Resources | None:
        if not self._set:
            return None
        values: dict[str, Any] = {}
        if "backend" in self._set:
            values["backend"] = self.backend.currentData()
        if "workers" in self._set:
            values["workers"] = self.workers.value() or "auto"
        if "device" in self._set:
            values["device"] = self.device.currentData()
        if "memory" in self._set:
            values["memory"] = self._memory
        if "scheduler" in self._set:
            values["scheduler"] = self.scheduler.text().strip() or None
        if "security" in self._set:
            values["security"] = self._security
        return Resources(**values)

    @Slot()
    def check_cluster(self) -> None:
        """The scheduler's workers, threads and memory, asked in a child process."""
        address = self.scheduler.text().strip()
        if not address or address == "local" or self._probe is not None:
            return
        args = [*self.engine[1:], "resources", "--json", "--scheduler", address]
        if self._security is not None:
            for key in TLS:
                args += [f"--tls-{key}", getattr(self._security, key)]
        probe = QProcess(self)
        probe.setWorkingDirectory(str(self.base_dir()))
        probe.finished.connect(lambda code, _status: self._checked(probe, code))
        self._probe = probe
        self.cluster_note.setText(f"asking {address}...")
        self._update_enabled()
        probe.start(self.engine[0], args)

    # ------------------------------------------------------------------------------ internals

    def _edited(self, name: str) -> None:
        if self._loading:
            return
        self._set.add(name)
        self._update_enabled()
        self.changed.emit(self.resources())

    @Slot()
    def _scheduler_edited(self) -> None:
        if self._loading:
            return
        text = self.scheduler.text().strip()
        if "scheduler" not in self._set and not text:
            return
        if text:
            self._set.add("scheduler")
        else:
            self._set.discard("scheduler")
        self._update_enabled()
        self.changed.emit(self.resources())

    def _checked(self, probe: QProcess, code: int) -> None:
        out = bytes(probe.readAllStandardOutput().data()).decode(errors="replace")
        err = bytes(probe.readAllStandardError().data()).decode(errors="replace").strip()
        self._probe = None
        probe.deleteLater()
        answer: dict[str, Any] | str
        try:
            answer = json.loads(out) if code == 0 else err.removeprefix("error: ")
        except ValueError:
            answer = err or f"no answer (exit {code})"
        if isinstance(answer, dict):
            gib = answer["memory_limit"] / 1024**3
            count = len(answer["workers"])
            text = f"{count} worker{'s' * (count != 1)}, {answer['threads']} threads, {gib:.1f} GiB"
            self.cluster_note.setText(text if count else "no workers yet: a run waits for one")
            self.cluster_note.setStyleSheet("")
        else:
            self.cluster_note.setText(answer)
            self.cluster_note.setStyleSheet("color: #c0392b;")
        self._update_enabled()
        self.cluster_checked.emit(answer)

    @Slot()
    def _memory_edited(self) -> None:
        """A size or auto is written; anything else is named beside the field, and not written."""
        if self._loading:
            return
        text = self.memory.currentText().strip()
        try:
            if text != "auto":
                parse_size(text)
        except ValueError as exc:
            self.memory_note.setText(str(exc))
            self._update_enabled()
            return
        self.memory_note.clear()
        self._update_enabled()
        if "memory" in self._set and text == self._memory:
            return
        self._memory = text
        self._edited("memory")

    @Slot()
    def _tls_edited(self) -> None:
        """All three files typed: written; all cleared: removed; otherwise wait for the rest."""
        if self._loading:
            return
        texts = {key: edit.text().strip() for key, edit in self.tls.items()}
        if all(texts.values()):
            security: Security | None = Security(**texts)
        elif not any(texts.values()):
            security = None
        else:
            return
        if security == self._security:
            return
        self._security = security
        if security is None:
            self._set.discard("security")
        else:
            self._set.add("security")
        self.changed.emit(self.resources())

    def _update_enabled(self) -> None:
        dask = self.backend.currentData() == "dask"
        self.scheduler.setEnabled(dask or bool(self.scheduler.text()))
        address = self.scheduler.text().strip()
        self.check.setEnabled(bool(address) and address != "local" and self._probe is None)
        self.cluster_note.setVisible(bool(self.cluster_note.text()))
        self.memory_note.setVisible(bool(self.memory_note.text()))
        tls = (dask and address.startswith("tls://")) or self._security is not None
        for edit in self.tls.values():
            edit.setEnabled(tls)
        self.workers.setEnabled(self.backend.currentData() != "sequential")
        gpu_chosen = self.device.currentData() == "gpu"
        warn = gpu_chosen and not self.gpu_available
        self.device_note.setVisible(bool(self.device_note.text()))
        self.device_note.setStyleSheet("color: #c0392b;" if warn else "color: palette(mid);")
        self.device_note.setAlignment(Qt.AlignmentFlag.AlignLeft)
