"""app.resources_panel: Resources in and out unchanged, user edits emitted, GPU only when found."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel

from app.resources_panel import ResourcesPanel
from engine.machine import Gpu, Machine, machine
from engine.models import Resources, Security


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
        Resources(memory="512MB"),
        Resources(
            backend="dask", scheduler="tls://10.0.0.5:8786", security=Security(ca="a", cert="b", key="c")
        ),
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


def test_resources_panel_memory_typed_as_a_person_would(qtbot) -> None:
    """A size typed (or picked) is written; a typo is named beside the field and not written."""
    panel = ResourcesPanel(machine=fake_machine())
    qtbot.addWidget(panel)
    panel.set_resources(Resources(workers=2))
    assert panel.memory.currentText() == "auto" and not panel.memory_note.isVisibleTo(panel)
    emitted: list[object] = []
    panel.changed.connect(emitted.append)
    panel.memory.lineEdit().selectAll()
    qtbot.keyClicks(panel.memory.lineEdit(), "lots")
    qtbot.keyClick(panel.memory.lineEdit(), Qt.Key.Key_Return)
    assert emitted == [] and panel.resources() == Resources(workers=2)
    assert "memory must be 'auto' or a size" in panel.memory_note.text()
    assert panel.memory_note.isVisibleTo(panel)
    panel.memory.lineEdit().selectAll()
    qtbot.keyClicks(panel.memory.lineEdit(), "1.5 GB")
    qtbot.keyClick(panel.memory.lineEdit(), Qt.Key.Key_Return)
    assert emitted[-1] == Resources(workers=2, memory="1.5 GB") and not panel.memory_note.text()
    panel.memory.setCurrentIndex(panel.memory.findText("4GB"))
    panel.memory.activated.emit(panel.memory.currentIndex())
    assert emitted[-1] == Resources(workers=2, memory="4GB")
    count = len(emitted)
    panel.memory.lineEdit().editingFinished.emit()  # nothing new: nothing emitted
    assert len(emitted) == count


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


def test_resources_panel_tls_written_only_when_all_three_typed(qtbot) -> None:
    panel = ResourcesPanel(machine=fake_machine())
    qtbot.addWidget(panel)
    panel.set_resources(Resources(backend="dask", scheduler="tls://10.0.0.5:8786"))
    assert all(edit.isEnabled() for edit in panel.tls.values())
    emitted: list[object] = []
    panel.changed.connect(emitted.append)
    panel.tls["ca"].setText("certs/ca.pem")
    panel.tls["ca"].editingFinished.emit()
    panel.tls["cert"].setText("certs/me.pem")
    panel.tls["cert"].editingFinished.emit()
    assert emitted == []  # two of three: nothing written yet
    panel.tls["key"].setText("certs/me.key")
    with qtbot.waitSignal(panel.changed) as blocker:
        panel.tls["key"].editingFinished.emit()
    security = Security(ca="certs/ca.pem", cert="certs/me.pem", key="certs/me.key")
    assert blocker.args == [Resources(backend="dask", scheduler="tls://10.0.0.5:8786", security=security)]
    for edit in panel.tls.values():
        edit.clear()
        edit.editingFinished.emit()
    assert emitted[-1] == Resources(backend="dask", scheduler="tls://10.0.0.5:8786")


FAKE_ENGINE = """
import json, sys
args = sys.argv[1:]
address = args[args.index("--scheduler") + 1]
if address.endswith(":1"):
    print("error: cannot reach the Dask scheduler at " + address + " (no answer within 2 s)", file=sys.stderr)
    sys.exit(2)
tls = "--tls-key" in args
workers = [{"name": str(i), "address": f"tcp://h:{i}", "host": "h", "threads": 4, "memory_limit": 2 * 1024**3}
           for i in range(3)]
print(json.dumps({"scheduler": address, "workers": workers, "threads": 12, "memory_limit": 6 * 1024**3,
                  "tls": tls, "cwd": __import__("os").getcwd()}))
"""


def test_resources_panel_check_cluster_shows_workers_or_the_error(qtbot, tmp_path: Path) -> None:
    script = tmp_path / "fake_engine.py"
    script.write_text(FAKE_ENGINE)
    panel = ResourcesPanel(machine=fake_machine(), engine=(sys.executable, str(script)))
    qtbot.addWidget(panel)
    panel.base_dir = lambda: tmp_path
    security = Security(ca="ca.pem", cert="me.pem", key="me.key")
    panel.set_resources(Resources(backend="dask", scheduler="tls://h:8786", security=security))
    assert panel.check.isEnabled()
    with qtbot.waitSignal(panel.cluster_checked, timeout=10_000) as blocker:
        qtbot.mouseClick(panel.check, Qt.MouseButton.LeftButton)
    answer = blocker.args[0]
    assert answer["tls"] and Path(answer["cwd"]) == tmp_path  # relative TLS paths resolve there
    assert panel.cluster_note.text() == "3 workers, 12 threads, 6.0 GiB"
    panel.set_resources(Resources(backend="dask", scheduler="tcp://h:1"))
    with qtbot.waitSignal(panel.cluster_checked, timeout=10_000) as blocker:
        panel.check_cluster()
    assert blocker.args[0] == "cannot reach the Dask scheduler at tcp://h:1 (no answer within 2 s)"
    assert panel.cluster_note.text() == blocker.args[0]
    panel.scheduler.setText("local")
    assert not panel.check.isEnabled()
