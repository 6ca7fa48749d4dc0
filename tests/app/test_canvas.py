"""The canvas follows the Document and turns mouse and keyboard gestures into Document edits."""

from __future__ import annotations

import warnings

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from app.canvas import Canvas, node_mime
from engine.projectfile import dumps


@pytest.fixture
def canvas(doc, qtbot):
    c = Canvas(doc)
    qtbot.addWidget(c)
    c.resize(1000, 600)
    c.show()
    qtbot.waitExposed(c)
    return c


def _view_point(canvas: Canvas, scene_pos: QPointF) -> QPoint:
    return canvas.viewer.mapFromScene(scene_pos)


def drag(canvas: Canvas, start: QPointF, end: QPointF) -> None:
    port = canvas.viewer.viewport()
    a, b = _view_point(canvas, start), _view_point(canvas, end)
    QTest.mousePress(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, 6):
        QTest.mouseMove(port, a + (b - a) * (i / 5))
    QTest.mouseRelease(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def connect_by_mouse(canvas: Canvas, src: str, dst: str) -> None:
    (sn, sp), (dn, dp) = src.split("."), dst.split(".")
    drag(canvas, canvas.port_scene_pos(sn, sp, True), canvas.port_scene_pos(dn, dp, False))


def test_canvas_shows_every_node_and_edge_of_the_document(doc, canvas, orders):
    doc.open(orders)
    assert canvas.node_ids() == ["orders", "tidy", "split", "stats", "out"]
    tidy = canvas.scene_node("tidy")
    assert [p.name() for p in tidy.inputs()["in"].connected_ports()] == ["out"]


def test_canvas_follows_undo_and_redo(doc, canvas):
    doc.add_node("source.generate", node_id="a")
    doc.add_node("clean", node_id="b", pos=(250, 0))
    doc.connect("a.out", "b.in")
    doc.remove_nodes(["a"])
    assert canvas.node_ids() == ["b"]
    doc.undo_stack.undo()
    assert canvas.node_ids() == ["b", "a"] or set(canvas.node_ids()) == {"a", "b"}
    assert canvas.scene_node("b").inputs()["in"].connected_ports()
    doc.undo_stack.undo()
    assert not canvas.scene_node("b").inputs()["in"].connected_ports()


def test_drag_from_output_to_input_connects_with_one_undo_step(doc, canvas):
    doc.add_node("source.generate", node_id="a")
    doc.add_node("clean", node_id="b", pos=(300, 0))
    canvas.zoom_to_fit()
    before = dumps(doc.project)
    connect_by_mouse(canvas, "a.out", "b.in")
    assert [str(e.target) for e in doc.project.edges] == ["b.in"]
    assert canvas.scene_node("b").inputs()["in"].connected_ports()
    doc.undo_stack.undo()
    assert dumps(doc.project) == before
    assert not canvas.scene_node("b").inputs()["in"].connected_ports()


def test_refused_connection_shows_the_reason(doc, canvas, qtbot):
    doc.add_node("clean", node_id="a")
    doc.add_node("clean", node_id="b", pos=(300, 0))
    doc.connect("a.out", "b.in")
    canvas.zoom_to_fit()
    with qtbot.waitSignal(canvas.message) as sig:
        connect_by_mouse(canvas, "b.out", "a.in")
    assert "cycle" in sig.args[0]
    assert len(doc.project.edges) == 1
    assert not canvas.scene_node("a").inputs()["in"].connected_ports()


def test_dragging_a_node_moves_it_in_one_undo_step(doc, canvas):
    doc.add_node("clean", node_id="a")
    canvas.zoom_to_fit()
    view = canvas.scene_node("a").view
    start = view.sceneBoundingRect().center() + QPointF(0, 12)
    drag(canvas, start, start + QPointF(120, 60))
    x, y = doc.position("a")
    assert x > 40 and y > 20
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert doc.position("a") == (0, 0) and tuple(view.xy_pos) == (0.0, 0.0)


def drop(canvas: Canvas, type_name: str, at: QPoint) -> None:
    """What a drop from the palette delivers: drag-enter, then drop, on the viewport."""
    port, mime = canvas.viewer.viewport(), node_mime(type_name)
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # PySide6 flags the QPoint constructor
        enter = QDragEnterEvent(at, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(port, enter)
    QApplication.sendEvent(port, QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime, buttons, mods))


def test_drop_of_a_node_type_adds_it_where_dropped(doc, canvas):
    drop(canvas, "partition", QPoint(200, 200))
    [node] = doc.project.nodes
    assert node.type == "partition" and canvas.selected_ids() == [node.id]
    scene = canvas.viewer.mapToScene(QPoint(200, 200))
    assert abs(doc.position(node.id)[0] - scene.x()) <= 1


def test_tab_search_adds_the_chosen_type(doc, canvas, qtbot):
    def choose() -> None:
        menu = QApplication.activePopupWidget()
        assert menu is not None
        line = menu.findChild(QLineEdit)
        line.setText("compute")
        QTest.keyClick(line, Qt.Key.Key_Return)

    QTimer.singleShot(50, choose)
    canvas.viewer.setFocus()
    QTest.keyClick(canvas.viewer, Qt.Key.Key_Tab)
    assert [n.type for n in doc.project.nodes] == ["compute"]


def test_delete_copy_paste_select_all(doc, canvas):
    doc.add_node("source.generate", node_id="a")
    doc.add_node("clean", node_id="b", pos=(250, 0))
    doc.connect("a.out", "b.in")
    canvas.select_all()
    assert canvas.selected_ids() == ["a", "b"]
    assert canvas.copy_selected()
    pasted = canvas.paste()
    assert len(pasted) == 2 and len(doc.project.edges) == 2
    assert canvas.selected_ids() == pasted
    canvas.delete_selected()
    assert [n.id for n in doc.project.nodes] == ["a", "b"]


def test_backdrop_around_selection_is_saved_in_project_ui(doc, canvas):
    doc.add_node("clean", node_id="a")
    canvas.select(["a"])
    bid = canvas.add_backdrop("Inputs")
    [bd] = doc.backdrops()
    assert bd["id"] == bid and bd["title"] == "Inputs" and bd["width"] > 160
    doc.undo_stack.undo()
    assert doc.project.ui is None
    doc.undo_stack.redo()
    canvas.select_all()
    canvas.delete_selected()
    assert doc.project.ui is None and doc.project.nodes == []


@pytest.mark.parametrize("state", ["waiting", "running", "done", "failed"])
def test_set_node_state_colours_and_labels_a_node(doc, canvas, state):
    doc.add_node("clean", node_id="a")
    canvas.set_node_state("a", state, "3/8 partitions")
    assert canvas.node_state("a") == (state, "3/8 partitions")
    canvas.clear_node_states()
    assert canvas.node_state("a") == (None, "")
    with pytest.raises(ValueError, match="unknown node state"):
        canvas.set_node_state("a", "exploded", "")


def test_placeholder_node_keeps_ports_of_its_edges(doc, canvas, project_copy):
    doc.open(project_copy("missing-plugin"))
    stats = canvas.scene_node("stats")
    assert "missing: geo.distance" in stats.name()
    assert list(stats.inputs()) == ["in"] and list(stats.outputs()) == ["out"]
    doc.remove_nodes(["stats"])
    doc.undo_stack.undo()
    stats = canvas.scene_node("stats")
    assert stats.inputs()["in"].connected_ports() and stats.outputs()["out"].connected_ports()
