"""app.resources_panel: Resources in and out unchanged, user edits emitted, GPU only when found."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QStandardItemModel

from app.resources_panel import ResourcesPanel
from engine.machine import Gpu, Machine, machine
from engine.models import Resources


def fake_machine(gpus: tuple[Gpu, ...] = ()) -> Machine:
    return Machine(4, 8, 4, None, 16 * 1024**3, 8 * 1024**3, None, gpus)


def gpu_item_enabled(panel: ResourcesPanel) -> bool:
    model = panel.device.model()
    assert isinstance(model, QStandardItemModel)
    return model.item(panel.device.findData("gpu")).isEnabled()


@pytest.mark.parametrize(
    "resources",
    [
        None,
        Resources(),
        Resources(backend="auto", workers="auto"),
        Resources(backend="processes", workers=3, device="cpu"),
        Resources(backend="dask", scheduler="tcp://127.0.0.1:8786"),
        Resources(device="gpu"),  # kept, though this machine has none
        Resources(workers=2),
    ],
)
def test_resources_panel_round_trips(qtbot, resources: Resources | None) -> None:
    panel = ResourcesPanel(machine=fake_machine())
    qtbot.addWidget(panel)
    emitted: list[object] = []
    panel.changed.connect(emitted.append)
    panel.set_resources(resources)
    expected = None if resources is None or resources == Resources() else resources
    assert panel.resources() == expected
    assert emitted == []  # loading is not an edit


def test_resources_panel_user_edits_emit_changed(qtbot) -> None:
    panel = ResourcesPanel(machine=fake_machine())
    qtbot.addWidget(panel)
    panel.set_resources(Resources(workers=2))
    with qtbot.waitSignal(panel.changed) as blocker:
        panel.backend.setCurrentIndex(panel.backend.findData("threads"))
    assert blocker.args == [Resources(backend="threads", workers=2)]
    with qtbot.waitSignal(panel.changed) as blocker:
        panel.workers.setValue(0)  # the special value: auto
    assert blocker.args == [Resources(backend="threads", workers="auto")]
    assert not panel.scheduler.isEnabled()
    panel.backend.setCurrentIndex(panel.backend.findData("dask"))
    assert panel.scheduler.isEnabled()
    panel.scheduler.setText("local")
    with qtbot.waitSignal(panel.changed) as blocker:
        panel.scheduler.editingFinished.emit()
    assert blocker.args == [Resources(backend="dask", workers="auto", scheduler="local")]


def test_resources_panel_gpu_disabled_with_the_reason_on_this_machine(qtbot) -> None:
    here = machine()
    if here.gpus:
        pytest.skip("this machine has a GPU")
    panel = ResourcesPanel()
    qtbot.addWidget(panel)
    assert not panel.gpu_available and not gpu_item_enabled(panel)
    assert panel.gpu_reason.startswith("no GPU found (") and panel.device_note.text() == panel.gpu_reason
    assert panel.device.currentData() == "cpu"


def test_resources_panel_gpu_offered_when_one_is_found(qtbot) -> None:
    panel = ResourcesPanel(machine=fake_machine((Gpu(0, "Test GPU", 8 * 1024**3),)))
    qtbot.addWidget(panel)
    assert panel.gpu_available and gpu_item_enabled(panel) and panel.gpu_reason == ""
    with qtbot.waitSignal(panel.changed) as blocker:
        panel.device.setCurrentIndex(panel.device.findData("gpu"))
    assert blocker.args == [Resources(device="gpu")]
