"""Undo commands: each changes the open engine `Project` and tells the Document, never the scene.

The canvas and the properties panel follow the Document's signals, so undo, redo and a gesture
all take the same path. Commands keep deep copies of what they replace, so undoing restores the
project exactly (key order included): the tests compare `projectfile.dumps` before and after.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from engine.models import Edge, Node

if TYPE_CHECKING:
    from .document import Document

# QUndoCommand ids for mergeWith: only commands with the same id are offered to merge.
_SET_PARAM_ID = 1001
_SET_UI_ID = 1002


class DocumentCommand(QUndoCommand):
    """Base: a command on one Document."""

    def __init__(self, doc: Document, text: str) -> None:
        super().__init__(text)
        self.doc = doc


class _Replace(DocumentCommand):
    """A command that puts `new` in place and `old` back: `_set` does the putting."""

    old: Any
    new: Any

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)

    def _set(self, value: Any) -> None:
        raise NotImplementedError


class _Continuous(_Replace):
    """Continuous edits (spin-box steps, arrow-key nudges) of the same target merge into one step."""

    continuous: bool

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _Continuous) or type(other) is not type(self):
            return False
        if not (self.continuous and other.continuous) or other.target() != self.target():
            return False
        self.new = other.new
        return True

    def target(self) -> Any:
        raise NotImplementedError


class AddNodes(DocumentCommand):
    """Add nodes and edges between them (a new node, or a pasted fragment)."""

    def __init__(self, doc: Document, nodes: list[Node], edges: list[Edge], text: str) -> None:
        super().__init__(doc, text)
        self.nodes = [n.model_copy(deep=True) for n in nodes]
        self.edges = [e.model_copy(deep=True) for e in edges]

    def redo(self) -> None:
        project = self.doc.project
        for node in self.nodes:
            project.nodes.append(node.model_copy(deep=True))
            self.doc.node_added.emit(node.id)
        for edge in self.edges:
            project.edges.append(edge.model_copy(deep=True))
            self.doc.edge_added.emit(edge)

    def undo(self) -> None:
        project = self.doc.project
        for edge in reversed(self.edges):
            _remove_last(project.edges, edge)
            self.doc.edge_removed.emit(edge)
        for node in reversed(self.nodes):
            index = next(i for i, n in enumerate(project.nodes) if n.id == node.id)
            del project.nodes[index]
            self.doc.node_removed.emit(node.id)


class RemoveNodes(DocumentCommand):
    """Remove nodes with their edges; undo puts every one back at its old index."""

    def __init__(self, doc: Document, ids: list[str]) -> None:
        super().__init__(doc, f"Delete {_count(len(ids), 'node')}")
        wanted = set(ids)
        project = doc.project
        self.nodes = [(i, n.model_copy(deep=True)) for i, n in enumerate(project.nodes) if n.id in wanted]
        self.edges = [
            (i, e.model_copy(deep=True))
            for i, e in enumerate(project.edges)
            if e.source.node in wanted or e.target.node in wanted
        ]

    def redo(self) -> None:
        project = self.doc.project
        for i, edge in reversed(self.edges):
            del project.edges[i]
            self.doc.edge_removed.emit(edge)
        for i, node in reversed(self.nodes):
            del project.nodes[i]
            self.doc.node_removed.emit(node.id)

    def undo(self) -> None:
        project = self.doc.project
        for i, node in self.nodes:
            project.nodes.insert(i, node.model_copy(deep=True))
            self.doc.node_added.emit(node.id)
        for i, edge in self.edges:
            project.edges.insert(i, edge.model_copy(deep=True))
            self.doc.edge_added.emit(edge)


class Connect(DocumentCommand):
    def __init__(self, doc: Document, edge: Edge) -> None:
        super().__init__(doc, f"Connect {edge.source} to {edge.target}")
        self.edge = edge

    def redo(self) -> None:
        self.doc.project.edges.append(self.edge.model_copy(deep=True))
        self.doc.edge_added.emit(self.edge)

    def undo(self) -> None:
        _remove_last(self.doc.project.edges, self.edge)
        self.doc.edge_removed.emit(self.edge)


class Disconnect(DocumentCommand):
    def __init__(self, doc: Document, edge: Edge) -> None:
        super().__init__(doc, f"Disconnect {edge.source} from {edge.target}")
        self.edge = edge
        self.index = doc.project.edges.index(edge)

    def redo(self) -> None:
        del self.doc.project.edges[self.index]
        self.doc.edge_removed.emit(self.edge)

    def undo(self) -> None:
        self.doc.project.edges.insert(self.index, self.edge.model_copy(deep=True))
        self.doc.edge_added.emit(self.edge)


class SetParam(_Continuous):
    """Set one param (None removes the key: `null` means "not given")."""

    def __init__(
        self, doc: Document, node_id: str, name: str, value: Any, *, continuous: bool = False
    ) -> None:
        super().__init__(doc, f"Set {node_id}.{name}")
        self.node_id, self.name, self.continuous = node_id, name, continuous
        self.old = copy.deepcopy(doc.project.node(node_id).params)
        self.new = _with_key(self.old, name, copy.deepcopy(value))

    def id(self) -> int:
        return _SET_PARAM_ID

    def target(self) -> Any:
        return (self.node_id, self.name)

    def _set(self, params: dict[str, Any]) -> None:
        self.doc.project.node(self.node_id).params = copy.deepcopy(params)
        self.doc.node_changed.emit(self.node_id)


class SetNodeUi(_Continuous):
    """Replace the `ui` blocks of some nodes (positions after a drag or a layout)."""

    def __init__(
        self, doc: Document, uis: dict[str, dict[str, Any] | None], text: str, *, continuous: bool = False
    ) -> None:
        super().__init__(doc, text)
        self.continuous = continuous
        self.old = {nid: copy.deepcopy(doc.project.node(nid).ui) for nid in uis}
        self.new = copy.deepcopy(uis)

    def id(self) -> int:
        return _SET_UI_ID

    def target(self) -> Any:
        return set(self.new)

    def _set(self, uis: dict[str, dict[str, Any] | None]) -> None:
        for nid, ui in uis.items():
            self.doc.project.node(nid).ui = copy.deepcopy(ui)
            self.doc.node_changed.emit(nid)


class SetProjectField(_Replace):
    """Replace a project-level field: name, description, resources or the top-level `ui`."""

    FIELDS = ("name", "description", "resources", "ui")

    def __init__(self, doc: Document, field: str, value: Any, text: str) -> None:
        super().__init__(doc, text)
        if field not in self.FIELDS:
            raise ValueError(f"not a project field: {field}")
        self.field = field
        self.old = copy.deepcopy(getattr(doc.project, field))
        self.new = copy.deepcopy(value)

    def _set(self, value: Any) -> None:
        setattr(self.doc.project, self.field, copy.deepcopy(value))
        if self.field == "ui":
            self.doc.backdrops_changed.emit()
        else:
            self.doc.project_changed.emit()


def _with_key(params: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """A copy of params with `name` set in place (or appended), or removed when value is None."""
    if value is None:
        return {k: v for k, v in params.items() if k != name}
    out = dict(params)
    out[name] = value
    return out


def _remove_last(edges: list[Edge], edge: Edge) -> None:
    for i in range(len(edges) - 1, -1, -1):
        if edges[i] == edge:
            del edges[i]
            return
    raise ValueError(f"no edge {edge.source} -> {edge.target}")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
