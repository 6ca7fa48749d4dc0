"""The node canvas: a NodeGraphQt graph that follows the Document and turns gestures into edits.

NodeGraphQt applies gestures to its own model and undo stack; here its gesture slots are
replaced so that creating, connecting, moving and deleting call Document methods instead (one
undo step each, on the Document's stack), and the scene is then updated from the Document's
signals. NodeGraphQt's own undo stack only ever sees scene bookkeeping and is kept short.
"""

from __future__ import annotations

from typing import Any

from NodeGraphQt import NodeGraph
from NodeGraphQt.widgets.viewer import NodeViewer
from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QKeyEvent, QUndoStack
from PySide6.QtWidgets import QMenu, QVBoxLayout, QWidget

from engine.models import Edge

from . import convert
from .document import Document

NODE_MIME = "nodegraphqt/nodes"  # a format NodeGraphQt's viewer accepts for drops
TYPE_PREFIX = "graphmill-type:"
NODE_STATES = tuple(convert.STATE_COLORS)


def node_mime(type_name: str) -> QMimeData:
    """Drag data for one node type (the palette makes these)."""
    mime = QMimeData()
    mime.setData(NODE_MIME, (TYPE_PREFIX + type_name).encode())
    return mime


class _Viewer(NodeViewer):
    """Tab opens the node search instead of moving the focus."""

    tab_pressed = Signal()

    def focusNextPrevChild(self, next: bool) -> bool:
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Tab and not event.modifiers():
            self.tab_pressed.emit()
            return
        super().keyPressEvent(event)


class _Graph(NodeGraph):
    """NodeGraph whose gesture slots report to the canvas instead of editing its own model."""

    def __init__(self, canvas: Canvas) -> None:
        # Everything is owned by the canvas widget, so Qt destroys it in one order (objects
        # without a parent here crashed the interpreter at exit).
        stack = QUndoStack(canvas)
        stack.setUndoLimit(1)  # its commands are scene bookkeeping only: keep none around
        super().__init__(canvas, undo_stack=stack, viewer=_Viewer(canvas, undo_stack=stack))
        self._stack = stack
        self.canvas = canvas

    def _on_connection_changed(self, disconnected: list[Any], connected: list[Any]) -> None:
        self.canvas._on_gesture_connections(disconnected, connected)

    def _on_connection_sliced(self, ports: list[Any]) -> None:
        self.canvas._on_gesture_connections(ports, [])

    def _on_nodes_moved(self, node_data: dict[Any, Any]) -> None:
        self.canvas._on_gesture_moved(node_data)

    def _on_search_triggered(self, node_type: str, pos: tuple[float, float]) -> None:
        type_name = convert.engine_type(self, node_type)
        if type_name:
            self.canvas.add_node(type_name, pos)

    def _on_node_data_dropped(self, mimedata: QMimeData, pos: QPoint) -> None:
        self.canvas._on_gesture_drop(mimedata, (pos.x(), pos.y()))

    def _on_node_name_changed(self, node_id: str, name: str) -> None:
        self.canvas._on_gesture_rename(node_id)

    def _on_node_backdrop_updated(self, node_id: str, update_property: str, value: Any) -> None:
        self.canvas._on_gesture_backdrop(node_id, value)

    def _on_insert_node(self, pipe: Any, node_id: str, prev_node_pos: dict[Any, Any]) -> None:
        self.canvas._on_gesture_moved(prev_node_pos)


class Canvas(QWidget):
    """The scene of one Document; every gesture becomes one Document edit."""

    message = Signal(str)  # a refusal or hint for the status bar
    selection_changed = Signal()

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.graph = _Graph(self)
        self.graph.set_acyclic(False)  # the Document refuses cycles, with the reason shown
        self.viewer: _Viewer = self.graph.viewer()
        for action in (self.viewer.qaction_for_undo(), self.viewer.qaction_for_redo()):
            action.setShortcuts([])  # the window's Undo/Redo act on the Document's stack
            action.setEnabled(False)
        self.graph.get_context_menu("graph").qmenu.clear()
        self._nodes: dict[str, Any] = {}  # engine id -> NodeGraphQt node
        self._backdrops: dict[str, Any] = {}  # backdrop id -> BackdropNode
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.viewer)
        self.viewer.tab_pressed.connect(self.tab_search)
        self.graph.scene().selectionChanged.connect(self.selection_changed)
        document.reset.connect(self.rebuild)
        document.node_added.connect(self._on_node_added)
        document.node_removed.connect(self._on_node_removed)
        document.node_changed.connect(self._on_node_changed)
        document.edge_added.connect(self._on_edge_added)
        document.edge_removed.connect(self._on_edge_removed)
        document.backdrops_changed.connect(self._sync_backdrops)
        document.registry_changed.connect(self.viewer.rebuild_tab_search)
        self.rebuild()

    # ------------------------------------------------------------------ queries

    def context_menu(self) -> QMenu:
        """The canvas's right-click menu (the window adds its actions)."""
        return self.graph.get_context_menu("graph").qmenu

    def node_ids(self) -> list[str]:
        return list(self._nodes)

    def scene_node(self, node_id: str) -> Any:
        """The NodeGraphQt node that shows an engine node."""
        return self._nodes[node_id]

    def selected_ids(self) -> list[str]:
        """Engine ids of the selected nodes, in project order."""
        chosen = {nid for nid, ng in self._nodes.items() if ng.view.isSelected()}
        return [n.id for n in self.document.project.nodes if n.id in chosen]

    def selected_backdrops(self) -> list[str]:
        return [bid for bid, bd in self._backdrops.items() if bd.view.isSelected()]

    def port_scene_pos(self, node_id: str, port: str, output: bool) -> Any:
        """Scene position of a port's centre (to aim the mouse at it)."""
        item = convert.ports(self._nodes[node_id], output)[port].view
        return item.sceneBoundingRect().center()

    # ------------------------------------------------------------------ actions

    def add_node(self, type_name: str, pos: tuple[float, float] | None = None) -> str:
        """Add a node (palette, drop or search) and select it."""
        if pos is None:
            centre = self.viewer.mapToScene(self.viewer.viewport().rect().center())
            pos = (centre.x() - 80, centre.y() - 30)
        node_id = self.document.add_node(type_name, pos=pos)
        self.select([node_id])
        return node_id

    def select(self, ids: list[str]) -> None:
        wanted = set(ids)
        for nid, ng in self._nodes.items():
            ng.view.setSelected(nid in wanted)
        for bd in self._backdrops.values():
            bd.view.setSelected(False)

    def select_all(self) -> None:
        for item in [*self._nodes.values(), *self._backdrops.values()]:
            item.view.setSelected(True)

    def delete_selected(self) -> None:
        ids, backdrops = self.selected_ids(), self.selected_backdrops()
        if not backdrops:
            self.document.remove_nodes(ids)
            return
        if not ids:
            self.document.remove_backdrops(backdrops)
            return
        with self.document.macro("Delete"):
            self.document.remove_nodes(ids)
            self.document.remove_backdrops(backdrops)

    def copy_selected(self) -> bool:
        """Put the selected nodes on the clipboard as fragment JSON (plain text)."""
        ids = self.selected_ids()
        if not ids:
            return False
        # Plain text, not a QMimeData of our own: PySide6 6.12 frees a QMimeData given to
        # QClipboard.setMimeData twice at exit (a crash). The JSON names its own format.
        QGuiApplication.clipboard().setText(self.document.copy(ids))
        return True

    def paste(self) -> list[str]:
        text = QGuiApplication.clipboard().text()
        if not text.strip():
            return []
        try:
            ids = self.document.paste(text)
        except ValueError as exc:
            self.message.emit(str(exc))
            return []
        self.select(ids)
        return ids

    def add_backdrop(self, title: str = "Backdrop") -> str:
        """A backdrop around the selected nodes, or in the middle of the view."""
        chosen = [self._nodes[n] for n in self.selected_ids()]
        if chosen:
            rect = convert.nodes_rect(chosen)
        else:
            c = self.viewer.mapToScene(self.viewer.viewport().rect().center())
            rect = (c.x() - 150, c.y() - 100, 300, 200)
        return self.document.add_backdrop(rect, title)

    def zoom_to_fit(self) -> None:
        items = [ng.view for ng in [*self._nodes.values(), *self._backdrops.values()]]
        if items:
            convert.zoom_to_items(self.viewer, items)

    def tab_search(self) -> None:
        """NodeGraphQt's search menu over every node type (modal until a choice or Escape)."""
        for spec in self.document.registry:
            convert.register_spec(self.graph, spec)
        names = {
            name: types
            for name, types in self.graph.node_factory.names.items()
            if all(convert.engine_type(self.graph, t) for t in types)
        }
        self.viewer.tab_search_set_nodes(names)

    def set_node_state(self, node_id: str, state: str | None, text: str = "") -> None:
        """For the run side: colour a node for waiting/running/done/failed (None: back to normal)
        and show a short progress or error text under it."""
        ng = self._nodes.get(node_id)
        if ng is not None:
            convert.set_state(ng, state, text)

    def node_state(self, node_id: str) -> tuple[str | None, str]:
        """A node's run state and the text under it, as the person sees them."""
        ng = self._nodes[node_id]
        return convert.state_of(ng), convert.state_text(ng)

    def clear_node_states(self) -> None:
        for ng in self._nodes.values():
            convert.set_state(ng, None, "")

    # ------------------------------------------------------------------ document -> scene

    @Slot()
    def rebuild(self) -> None:
        for ng in [*self._nodes.values(), *self._backdrops.values()]:
            self.graph.remove_node(ng, push_undo=False)
        self._nodes.clear()
        self._backdrops.clear()
        self._sync_backdrops()
        for node in self.document.project.nodes:
            self._on_node_added(node.id)
        for edge in self.document.project.edges:
            self._on_edge_added(edge)
        self.graph.undo_stack().clear()
        QTimer.singleShot(0, self.zoom_to_fit)

    @Slot(str)
    def _on_node_added(self, node_id: str) -> None:
        doc = self.document
        node = doc.node(node_id)
        self._nodes[node_id] = convert.create_node(
            self.graph, node, doc.registry.find(node.type), doc.position(node_id), doc.project.edges
        )

    @Slot(str)
    def _on_node_removed(self, node_id: str) -> None:
        ng = self._nodes.pop(node_id, None)
        if ng is not None:
            self.graph.remove_node(ng, push_undo=False)

    @Slot(str)
    def _on_node_changed(self, node_id: str) -> None:
        ng = self._nodes.get(node_id)
        if ng is not None:
            convert.set_node_pos(ng, self.document.position(node_id))

    @Slot(object)
    def _on_edge_added(self, edge: Edge) -> None:
        src, dst = self._nodes.get(edge.source.node), self._nodes.get(edge.target.node)
        if src is not None and dst is not None:
            convert.connect(src, edge.source.port, dst, edge.target.port)

    @Slot(object)
    def _on_edge_removed(self, edge: Edge) -> None:
        self._redraw_ports(
            [(edge.source.node, edge.source.port, True), (edge.target.node, edge.target.port, False)]
        )

    def _redraw_ports(self, ends: list[tuple[str, str, bool]]) -> None:
        """Make the pipes at these ports match the Document's edges again."""
        for node_id, port, output in ends:
            if node_id in self._nodes:
                convert.clear_port(self._nodes[node_id], port, output)
        keys = {(n, p, o) for n, p, o in ends}
        for edge in self.document.project.edges:
            if (edge.source.node, edge.source.port, True) in keys or (
                edge.target.node,
                edge.target.port,
                False,
            ) in keys:
                self._on_edge_added(edge)

    @Slot()
    def _sync_backdrops(self) -> None:
        wanted = {b["id"]: b for b in self.document.backdrops()}
        for bid in [b for b in self._backdrops if b not in wanted]:
            self.graph.remove_node(self._backdrops.pop(bid), push_undo=False)
        for bid, data in wanted.items():
            if bid in self._backdrops:
                convert.update_backdrop(self._backdrops[bid], data)
            else:
                self._backdrops[bid] = convert.create_backdrop(self.graph, data)

    # ------------------------------------------------------------------ gestures -> document

    def _on_gesture_connections(self, disconnected: list[Any], connected: list[Any]) -> None:
        removed = [e for a, b in disconnected if (e := convert.view_pair_to_edge(self.graph, a, b))]
        removed = [e for e in removed if e in self.document.project.edges]
        added = [e for a, b in connected if (e := convert.view_pair_to_edge(self.graph, a, b))]
        refused = None
        for edge in added:
            refused = self.document.can_connect(edge.source, edge.target, replacing=removed)
            if refused:
                break
        if refused:
            self.message.emit(f"Cannot connect: {refused}")
        elif len(removed) + len(added) == 1:
            for edge in removed:
                self.document.disconnect(edge)
            for edge in added:
                self.document.connect(edge.source, edge.target)
        elif removed or added:
            with self.document.macro("Reconnect"):
                for edge in removed:
                    self.document.disconnect(edge)
                for edge in added:
                    self.document.connect(edge.source, edge.target)
        ends: list[tuple[str, str, bool]] = []
        for a, b in [*disconnected, *connected]:
            for item in (a, b):
                ng = convert.node_of_view(self.graph, item.node)
                nid = convert.engine_id(ng)
                if nid is not None:
                    ends.append((nid, item.name, item.port_type == "out"))
        self._redraw_ports(ends)

    def _on_gesture_moved(self, node_data: dict[Any, Any]) -> None:
        positions: dict[str, tuple[float, float]] = {}
        backdrops: dict[str, dict[str, float]] = {}
        for view in node_data:
            ng = convert.node_of_view(self.graph, view)
            if (nid := convert.engine_id(ng)) is not None:
                positions[nid] = convert.node_pos(ng)
            elif (bid := convert.backdrop_id(ng)) is not None:
                backdrops[bid] = convert.backdrop_rect(ng)
        if not backdrops:
            self.document.move_nodes(positions)
            return
        with self.document.macro("Move"):
            self.document.move_nodes(positions)
            for bid, rect in backdrops.items():
                self.document.update_backdrop(bid, x=rect["x"], y=rect["y"])

    def _on_gesture_drop(self, mime: QMimeData, pos: tuple[float, float]) -> None:
        if not mime.hasFormat(NODE_MIME):
            return
        data = bytes(mime.data(NODE_MIME).data()).decode()
        if data.startswith(TYPE_PREFIX):
            self.add_node(data.removeprefix(TYPE_PREFIX), pos)

    def _on_gesture_rename(self, view_id: str) -> None:
        """Node names are engine ids: put the name back (renaming is not supported yet)."""
        ng = self.graph.get_node_by_id(view_id)
        nid = convert.engine_id(ng)
        if nid is not None and ng.name() != nid:
            ng.view.name = nid
            ng.model.name = nid
            ng.view.draw_node()

    def _on_gesture_backdrop(self, view_id: str, value: Any) -> None:
        bd = self.graph.get_node_by_id(view_id)
        bid = convert.backdrop_id(bd)
        if bid is not None and isinstance(value, dict) and "width" in value:
            x, y = value.get("pos", bd.view.xy_pos)
            self.document.update_backdrop(bid, x=x, y=y, width=value["width"], height=value["height"])
