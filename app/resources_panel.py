"""The resources panel: where a project runs (backend, workers, device, Dask scheduler).

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
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.models import Resources

BACKENDS = {
    "auto": "auto: threads, or processes where a step holds the GIL",
    "sequential": "sequential: one partition at a time, in one process",
    "threads": "threads",
    "processes": "processes (loky)",
    "dask": "dask: a Dask cluster (scheduler address below)",
}
DEVICES = {"cpu": "CPU", "gpu": "GPU", "auto": "auto: the GPU when there is one"}
FIELDS = ("backend", "workers", "device", "scheduler")


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

    def __init__(self, parent: QWidget | None = None, *, machine: Any = None) -> None:
        super().__init__(parent)
        if machine is None:
            from engine.machine import machine as probe

            machine = probe()
        self.machine = machine
        self.gpu_available = bool(machine.gpus)
        self.gpu_reason = _gpu_reason(machine)
        self._set: set[str] = set()  # fields the project sets (loaded, or edited here)
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
        self.scheduler = QLineEdit()
        self.scheduler.setPlaceholderText("tcp://127.0.0.1:8786, or local")
        self.scheduler.setClearButtonEnabled(True)
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
        form.addRow("Scheduler", self.scheduler)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.machine_note)
        layout.addStretch(1)

        self.backend.currentIndexChanged.connect(lambda _: self._edited("backend"))
        self.workers.valueChanged.connect(lambda _: self._edited("workers"))
        self.device.currentIndexChanged.connect(lambda _: self._edited("device"))
        self.scheduler.editingFinished.connect(self._scheduler_edited)
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
            self.scheduler.setText(r.scheduler or "")
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
        if "scheduler" in self._set:
            values["scheduler"] = self.scheduler.text().strip() or None
        return Resources(**values)

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

    def _update_enabled(self) -> None:
        dask = self.backend.currentData() == "dask"
        self.scheduler.setEnabled(dask or bool(self.scheduler.text()))
        self.workers.setEnabled(self.backend.currentData() != "sequential")
        gpu_chosen = self.device.currentData() == "gpu"
        warn = gpu_chosen and not self.gpu_available
        self.device_note.setVisible(bool(self.device_note.text()))
        self.device_note.setStyleSheet("color: #c0392b;" if warn else "color: palette(mid);")
        self.device_note.setAlignment(Qt.AlignmentFlag.AlignLeft)
