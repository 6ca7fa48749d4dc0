"""The main window, driven as a person would: actions, shortcuts, the palette, mouse on ports."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QMessageBox

from app.autosave import Autosaver
from app.main import MainWindow
from engine import cli

from .test_canvas import connect_by_mouse
from .test_properties import type_into

Button = QMessageBox.StandardButton


@pytest.fixture
def answers(monkeypatch):
    """Patch QMessageBox.question: the test queues the buttons a person would click."""
    queued: list[Button] = []
    asked: list[str] = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return queued.pop(0)

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return queued, asked


def press(window: MainWindow, keys: str) -> None:
    QTest.keySequence(window, QKeySequence(keys))


def test_title_shows_name_and_a_star_while_modified(window, orders):
    assert window.windowTitle() == "Graphmill - Untitled"
    window.open_path(orders)
    assert window.windowTitle() == "Graphmill - Revenue by region"
    window.document.set_param("split", "partitions", 2)
    assert window.windowTitle() == "Graphmill - Revenue by region*"
    press(window, "Ctrl+Z")
    assert window.windowTitle() == "Graphmill - Revenue by region"
    press(window, "Ctrl+Shift+Z")
    assert window.windowTitle().endswith("*")


def test_actions_have_their_shortcuts_and_only_stop_starts_disabled(window):
    shortcuts = {
        window.open_action: "Ctrl+O",
        window.save_action: "Ctrl+S",
        window.undo_action: "Ctrl+Z",
        window.redo_action: "Ctrl+Shift+Z",
        window.copy_action: "Ctrl+C",
        window.paste_action: "Ctrl+V",
        window.select_all_action: "Ctrl+A",
        window.run_action: "F5",
        window.stop_action: "Shift+F5",
    }
    for action, keys in shortcuts.items():
        assert action.shortcut().toString() == keys
    assert window.run_action.isEnabled() and not window.stop_action.isEnabled()
    dock = window.add_dock(QLabel("log"), "Log")
    assert dock.windowTitle() == "Log" and dock.toggleViewAction() in window.view_menu.actions()


def test_unsaved_changes_prompt_cancel_discard_save(window, orders, examples, answers, tmp_path):
    queued, asked = answers
    window.open_path(orders)
    window.document.set_param("split", "partitions", 3)
    queued.append(Button.Cancel)
    assert not window.open_path(examples / "stores.graphmill.json")
    assert window.document.path == orders and "Revenue by region" in asked[-1]
    queued.append(Button.Discard)
    assert window.open_path(examples / "stores.graphmill.json")
    assert window.document.project.name == "Two stores, one report" and not window.document.modified
    window.document.set_param("store_a", "rows", 5)
    queued.append(Button.Save)
    window.new_action.trigger()
    assert window.document.project.nodes == []
    saved = json.loads((examples / "stores.graphmill.json").read_text())
    assert saved["nodes"][0]["params"]["rows"] == 5


def test_close_with_unsaved_changes_can_be_cancelled(window, answers):
    queued, _ = answers
    window.document.add_node("clean")
    queued.append(Button.Cancel)
    assert not window.close()
    assert window.isVisible()
    queued.append(Button.Discard)
    assert window.close()


def test_recent_files_remember_opened_projects(window, orders, examples):
    window.open_path(orders)
    window.open_path(examples / "regions.graphmill.json")
    assert window.recent_files()[:2] == [
        str((examples / "regions.graphmill.json").resolve()),
        str(orders.resolve()),
    ]
    window.recent_menu.actions()[1].trigger()
    assert window.document.path == orders.resolve() or window.document.path == Path(str(orders.resolve()))


def test_open_broken_file_shows_the_error(window, projects_path, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda parent, title, text: shown.append(text)))
    assert not window.open_path(projects_path / "invalid-json.json")
    assert "invalid JSON" in shown[0]


def test_start_offers_recovery_of_a_crashed_session(qtbot, reg, tmp_path, orders, answers):
    queued, asked = answers
    crashed = MainWindow(reg, recovery_dir=tmp_path / "rec")
    qtbot.addWidget(crashed)
    crashed.open_path(orders)
    crashed.document.set_param("split", "partitions", 4)
    assert crashed.autosaver.save_now()  # then the process "dies": no clean exit
    window = MainWindow(reg, recovery_dir=tmp_path / "rec")
    qtbot.addWidget(window)
    queued.append(Button.Yes)
    assert window.offer_recovery()
    assert "did not close cleanly" in asked[-1]
    assert window.document.modified and window.document.path == orders
    assert window.document.node("split").params["partitions"] == 4
    assert window.windowTitle().endswith("*")
    assert not window.offer_recovery(), "offered once"
    for w in (crashed, window):
        w.document.undo_stack.setClean()


def test_autosave_timer_writes_while_modified(qtbot, reg, tmp_path):
    window = MainWindow(reg, recovery_dir=tmp_path / "rec", autosave_ms=30)
    qtbot.addWidget(window)
    assert isinstance(window.autosaver, Autosaver)
    window.document.add_node("clean")
    qtbot.waitUntil(window.autosaver.file.exists, timeout=2000)
    window.document.undo_stack.setClean()
    window.close()
    assert not window.autosaver.file.exists()


def build_orders_pipeline(window: MainWindow, rows: int, filter_text: str) -> list[str]:
    """What a person does: nodes from the palette, ports connected with the mouse, properties typed
    into the panel. Returns the node ids."""
    palette = window.palette
    types = ["source.generate", "clean", "partition", "compute", "sink.csv"]
    for i, type_name in enumerate(types):
        item = palette.item(type_name)
        palette.tree.setCurrentItem(item)
        palette.tree.setFocus()
        QTest.keyClick(palette.tree, Qt.Key.Key_Return)
        node_id = window.canvas.selected_ids()[0]
        window.document.move_nodes({node_id: (i * 250, 0)})
    ids = [n.id for n in window.document.project.nodes]
    assert ids == ["source_generate_1", "clean_1", "partition_1", "compute_1", "sink_csv_1"]
    window.zoom_fit_action.trigger()
    QApplication.processEvents()
    for a, b in itertools.pairwise(ids):
        connect_by_mouse(window.canvas, f"{a}.out", f"{b}.in")
    assert len(window.document.project.edges) == 4

    def select(node_id: str) -> None:
        window.canvas.select([node_id])
        QApplication.processEvents()
        assert window.properties.node_id == node_id

    select("source_generate_1")
    spin = window.properties.editors["rows"].spin
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, str(rows))
    QTest.keyClick(spin, Qt.Key.Key_Return)
    select("clean_1")
    dd = window.properties.editors["drop_duplicates"]
    dd.mode.setCurrentIndex(dd.mode.findData(True))
    dd.mode.activated.emit(dd.mode.currentIndex())
    select("compute_1")
    type_into(window.properties.editors["filter"].line, filter_text)
    columns = window.properties.editors["columns"]
    row = columns.add_row()
    type_into(columns.cell(row, 0), "revenue")
    type_into(columns.cell(row, 1), "quantity * price")
    select("sink_csv_1")
    type_into(window.properties.editors["path"].line, "out/revenue.csv")
    return ids


def save_with_ctrl_s(window: MainWindow, target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    window.canvas.setFocus()
    press(window, "Ctrl+S")
    assert target.exists() and not window.document.modified


def test_build_the_orders_pipeline_from_the_palette_and_save_a_valid_project(
    window, qtbot, tmp_path, monkeypatch, capsys
):
    """The scenario: palette, ports connected with the mouse, properties typed in, Ctrl+S."""
    build_orders_pipeline(window, 5000, "quantity > 0")
    target = tmp_path / "built.graphmill.json"
    save_with_ctrl_s(window, target, monkeypatch)
    saved = json.loads(target.read_text())
    assert saved["nodes"][0]["params"] == {"rows": 5000}
    assert saved["nodes"][3]["params"] == {
        "filter": "quantity > 0",
        "columns": {"revenue": "quantity * price"},
    }
    capsys.readouterr()
    assert cli.main(["validate", str(target)]) == 0, capsys.readouterr().out


def test_edit_shortcuts_copy_paste_delete_select_all_undo(window, orders):
    window.open_path(orders)
    window.canvas.viewer.setFocus()
    press(window, "Ctrl+A")
    assert window.canvas.selected_ids() == ["orders", "tidy", "split", "stats", "out"]
    press(window, "Ctrl+C")
    press(window, "Ctrl+V")
    assert len(window.document.project.nodes) == 10 and len(window.document.project.edges) == 8
    window.canvas.select(["source_generate_1"])
    window.canvas.viewer.setFocus()
    QTest.keyClick(window.canvas.viewer, Qt.Key.Key_Delete)
    assert len(window.document.project.nodes) == 9 and len(window.document.project.edges) == 7
    press(window, "Ctrl+Z")
    press(window, "Ctrl+Z")
    assert len(window.document.project.nodes) == 5 and not window.document.modified


def test_hand_written_project_opens_laid_out_and_unmodified(window, tmp_path):
    from .test_document import HAND_WRITTEN

    path = tmp_path / "hand.graphmill.json"
    path.write_text(json.dumps(HAND_WRITTEN, indent=1))
    window.open_path(path)
    xs = [window.canvas.scene_node(n).view.xy_pos[0] for n in ("a", "b", "c")]
    assert xs == sorted(xs) and xs[0] < xs[2]
    assert window.windowTitle() == "Graphmill - by hand"
    window.document.move_nodes({"a": (0, 500)})
    press(window, "Ctrl+L")
    assert window.document.position("a") == (0, 0) and window.document.modified
