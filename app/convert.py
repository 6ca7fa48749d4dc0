"""The only bridge between NodeGraphQt and the engine models.

NodeGraphQt node classes are generated from the registry's NodeSpecs (ports from the spec, never
listed by hand), so a node type registered while the app runs gets a class on first use. The
engine id lives in a node property (`gm_id`): NodeGraphQt makes new ids on every create.
Everything NodeGraphQt-internal that the canvas needs (views, models, port items) is reached
through the functions here.
"""

from __future__ import annotations

import re
from typing import Any

from NodeGraphQt import BackdropNode, BaseNode, NodeGraph
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsSimpleTextItem

from engine.models import Edge, Node
from engine.registry import NodeSpec

ID_PROPERTY = "gm_id"
TYPE_ATTR = "GM_TYPE"  # the engine type on a generated class
PLACEHOLDER_COLOR = (70, 70, 70, 255)
NORMAL_COLOR = (13, 18, 23, 255)
NORMAL_BORDER = (46, 57, 66, 255)
STATE_COLORS: dict[str, tuple[tuple[int, int, int, int], tuple[int, int, int, int]]] = {
    # state: (background, border)
    "waiting": ((30, 36, 48, 255), (110, 120, 140, 255)),
    "running": ((60, 48, 10, 255), (240, 180, 40, 255)),
    "done": ((14, 48, 26, 255), (70, 190, 100, 255)),
    "failed": ((70, 16, 16, 255), (235, 70, 60, 255)),
}


def class_name(type_name: str) -> str:
    return "GM_" + re.sub(r"\W", "_", type_name)


def node_class(spec: NodeSpec) -> type[BaseNode]:
    """A NodeGraphQt class for one node type: its ports come from the spec."""
    inputs = tuple(p.name for p in spec.inputs)
    outputs = tuple(p.name for p in spec.outputs)

    def __init__(self: BaseNode) -> None:
        BaseNode.__init__(self)
        for name in inputs:
            self.add_input(name, multi_input=False)
        for name in outputs:
            self.add_output(name, multi_output=True)
        self.create_property(ID_PROPERTY, "")

    family = re.sub(r"\W", "_", spec.family) or "plugins"
    attrs = {"__identifier__": family, "NODE_NAME": spec.type, TYPE_ATTR: spec.type, "__init__": __init__}
    return type(class_name(spec.type), (BaseNode,), attrs)


class PlaceholderNode(BaseNode):
    """Stands for a node whose type is not installed; its ports are added from its edges."""

    __identifier__ = "graphmill_missing"
    NODE_NAME = "missing"

    def __init__(self) -> None:
        super().__init__()
        self.create_property(ID_PROPERTY, "")


def register_spec(graph: NodeGraph, spec: NodeSpec) -> str:
    """Register the generated class for a spec once; returns its NodeGraphQt type."""
    cls = node_class(spec)
    if cls.type_ not in graph.registered_nodes():
        graph.register_node(cls)
    return cls.type_


def engine_type(graph: NodeGraph, ng_type: str) -> str | None:
    """The engine type of a NodeGraphQt type (from tab search)."""
    cls = graph.node_factory.nodes.get(ng_type)
    return getattr(cls, TYPE_ATTR, None)


def engine_id(node: Any) -> str | None:
    """The engine id of a NodeGraphQt node (None for backdrops and foreign nodes)."""
    if isinstance(node, BackdropNode) or not hasattr(node, "get_property"):
        return None
    return node.get_property(ID_PROPERTY) or None


def create_node(
    graph: NodeGraph, node: Node, spec: NodeSpec | None, pos: tuple[float, float], edges: list[Edge]
) -> BaseNode:
    """Add the scene node for an engine node (no NodeGraphQt undo, no signals)."""
    if spec is not None:
        ng_type = register_spec(graph, spec)
        name = node.id
    else:
        if PlaceholderNode.type_ not in graph.registered_nodes():
            graph.register_node(PlaceholderNode)
        ng_type = PlaceholderNode.type_
        name = f"{node.id} (missing: {node.type})"
    ng = graph.create_node(
        ng_type, name=name, pos=(float(pos[0]), float(pos[1])), push_undo=False, selected=False
    )
    ng.set_property(ID_PROPERTY, node.id, push_undo=False)
    if spec is None:
        ins = [e.target.port for e in edges if e.target.node == node.id]
        outs = [e.source.port for e in edges if e.source.node == node.id]
        for port in dict.fromkeys(ins):
            ng.add_input(port, multi_input=False)
        for port in dict.fromkeys(outs):
            ng.add_output(port, multi_output=True)
        _paint(ng, PLACEHOLDER_COLOR, (150, 150, 150, 255))
        ng.view.text_color = (200, 200, 200, 200)
        ng.view.draw_node()
        ng.view.setToolTip(f"missing: {node.type}" + (f" (plugin '{node.plugin}')" if node.plugin else ""))
    else:
        ng.view.setToolTip(f"{node.id}: {spec.type} ({spec.title})\n{spec.doc}")
    _label(ng, "_gm_type_label", 0).setText(node.type)
    return ng


def _label(ng: Any, attr: str, row: int) -> QGraphicsSimpleTextItem:
    """A small text line under a node: row 0 is its type, row 1 its run state."""
    label = getattr(ng.view, attr, None)
    if label is None:
        label = QGraphicsSimpleTextItem(ng.view)
        font = label.font()
        font.setPointSizeF(max(font.pointSizeF() * 0.8, 6))
        label.setFont(font)
        label.setBrush(_qcolor((150, 160, 170, 255)))
        setattr(ng.view, attr, label)
    label.setPos(3, ng.view.height + 1 + row * 13)
    return label


def node_pos(ng: BaseNode) -> tuple[float, float]:
    x, y = ng.view.xy_pos
    return (float(x), float(y))


def set_node_pos(ng: Any, pos: tuple[float, float]) -> None:
    """Place a node (or backdrop) without NodeGraphQt's undo stack."""
    xy = [float(pos[0]), float(pos[1])]
    if list(ng.view.xy_pos) != xy:
        ng.view.xy_pos = xy
        ng.model.pos = xy


def ports(ng: BaseNode, output: bool) -> dict[str, Any]:
    return ng.outputs() if output else ng.inputs()


def connect(src: BaseNode, src_port: str, dst: BaseNode, dst_port: str) -> bool:
    """Draw an edge; False when a port is missing (placeholders grow the ports their edges use)."""
    for ng, port, output in ((src, src_port, True), (dst, dst_port, False)):
        if isinstance(ng, PlaceholderNode) and port not in ports(ng, output):
            if output:
                ng.add_output(port, multi_output=True)
            else:
                ng.add_input(port, multi_input=False)
            ng.view.draw_node()
    out = src.outputs().get(src_port)
    inp = dst.inputs().get(dst_port)
    if out is None or inp is None:
        return False
    out.connect_to(inp, push_undo=False, emit_signal=False)
    return True


def clear_port(ng: BaseNode, port: str, output: bool) -> None:
    """Remove every connection of one port, in NodeGraphQt's model and on screen."""
    p = ports(ng, output).get(port)
    if p is None:
        return
    for other in p.connected_ports():
        p.disconnect_from(other, push_undo=False, emit_signal=False)
    for pipe in list(p.view.connected_pipes):
        pipe.delete()


def view_pair_to_edge(graph: NodeGraph, a: Any, b: Any) -> Edge | None:
    """Two viewer port items (either order) as an engine edge output -> input."""
    na, nb = graph.get_node_by_id(a.node.id), graph.get_node_by_id(b.node.id)
    ida, idb = engine_id(na), engine_id(nb)
    if ida is None or idb is None:
        return None
    a_out = a.port_type == "out"
    if a_out == (b.port_type == "out"):
        return None
    (sn, sp), (dn, dp) = ((ida, a.name), (idb, b.name)) if a_out else ((idb, b.name), (ida, a.name))
    return Edge.of(f"{sn}.{sp}", f"{dn}.{dp}")


def view_pair_nodes(graph: NodeGraph, a: Any, b: Any) -> list[Any]:
    return [graph.get_node_by_id(a.node.id), graph.get_node_by_id(b.node.id)]


def node_of_view(graph: NodeGraph, view: Any) -> Any:
    return graph.get_node_by_id(view.id)


def _paint(ng: Any, color: tuple[int, ...], border: tuple[int, ...]) -> None:
    ng.view.color = color
    ng.view.border_color = border
    ng.model.color = color
    ng.model.border_color = border
    ng.view.update()


def set_state(ng: BaseNode, state: str | None, text: str = "") -> None:
    """Colour a node for a run state and show a small line of text under it."""
    if state is None:
        _paint(ng, NORMAL_COLOR, NORMAL_BORDER)
    else:
        if state not in STATE_COLORS:
            raise ValueError(f"unknown node state {state!r}; expected one of {', '.join(STATE_COLORS)}")
        _paint(ng, *STATE_COLORS[state])
    ng.view._gm_state = state
    label = _label(ng, "_gm_state_label", 1)
    label.setText(text)
    label.setBrush(_qcolor(STATE_COLORS[state][1] if state else (220, 220, 220, 255)))
    label.setVisible(bool(text))


def state_of(ng: BaseNode) -> str | None:
    return getattr(ng.view, "_gm_state", None)


def state_text(ng: BaseNode) -> str:
    label = getattr(ng.view, "_gm_state_label", None)
    return label.text() if label is not None and label.isVisible() else ""


def _qcolor(rgba: tuple[int, ...]) -> Any:
    from PySide6.QtGui import QColor

    return QColor(*rgba)


# ---------------------------------------------------------------------------------- backdrops

BACKDROP_PROPERTY = "gm_backdrop"


def create_backdrop(graph: NodeGraph, data: dict[str, Any]) -> BackdropNode:
    bd = graph.create_node("nodeGraphQt.nodes.BackdropNode", push_undo=False, selected=False)
    bd.create_property(BACKDROP_PROPERTY, data["id"])
    update_backdrop(bd, data)
    return bd


def update_backdrop(bd: BackdropNode, data: dict[str, Any]) -> None:
    title = str(data.get("title", ""))
    if bd.get_property("backdrop_text") != title:
        bd.set_property("backdrop_text", title, push_undo=False)
    w, h = float(data.get("width", 300)), float(data.get("height", 200))
    if (bd.view.width, bd.view.height) != (w, h):
        bd.view.width, bd.view.height = w, h
        bd.model.width, bd.model.height = w, h
    set_node_pos(bd, (float(data.get("x", 0)), float(data.get("y", 0))))


def backdrop_id(node: Any) -> str | None:
    if isinstance(node, BackdropNode) and node.has_property(BACKDROP_PROPERTY):
        return node.get_property(BACKDROP_PROPERTY)
    return None


def backdrop_rect(bd: BackdropNode) -> dict[str, float]:
    x, y = bd.view.xy_pos
    return {"x": x, "y": y, "width": bd.view.width, "height": bd.view.height}


def zoom_to_items(viewer: Any, items: list[Any]) -> None:
    """NodeGraphQt's `zoom_to_nodes` on the same rectangle, found without its item group.

    `zoom_to_nodes` puts the items in a QGraphicsItemGroup and takes them out again to read the
    group's rect: every item is reparented twice, with NodeGraphQt's Python `itemChange` and
    `boundingRect` called each time (0.3-0.8 s for 300 nodes: a third of a 300-node open). The rect
    of a group is the union of its items' rects and their children's, in scene coordinates.
    """
    rect = QRectF()
    for item in items:
        rect = rect.united(item.mapRectToScene(item.boundingRect() | item.childrenBoundingRect()))
    viewer._scene_range = rect
    viewer._update_scene()
    if viewer.get_zoom() > 0.1:
        viewer.reset_zoom(rect.center())


def nodes_rect(nodes: list[BaseNode], margin: float = 30) -> tuple[float, float, float, float]:
    """A rectangle around scene nodes (for a new backdrop)."""
    rects = [n.view.sceneBoundingRect() for n in nodes]
    left = min(r.left() for r in rects) - margin
    top = min(r.top() for r in rects) - margin - 20
    right = max(r.right() for r in rects) + margin
    bottom = max(r.bottom() for r in rects) + margin
    return (left, top, right - left, bottom - top)
