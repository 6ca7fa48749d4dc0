"""The open project: its engine `Project`, path, registry and undo stack.

Every edit pushes one QUndoCommand (app/commands.py) that changes the Project; the scene follows
the signals. "Modified" is `not undo_stack.isClean()`, never a separate flag. Positions missing
from a hand-written file are laid out here but kept out of the Project, so opening a file and
saving it again writes the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QUndoStack

from engine import projectfile
from engine.graph import successors
from engine.models import Edge, Node, PortRef, Project, Resources
from engine.registry import NodeSpec, Registry
from engine.schema import Inference, Schema

from . import commands
from .layout import layered_positions

FRAGMENT_FORMAT = "graphmill-fragment/1"
_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class MissingType:
    """A node type the project uses that is not installed, with the nodes that use it."""

    type: str
    plugin: str | None
    nodes: tuple[str, ...]

    def reason(self) -> str:
        where = (
            f"plugin '{self.plugin}' (pip install {self.plugin})" if self.plugin else "no installed plugin"
        )
        return f"node type '{self.type}' is not installed (used by {', '.join(self.nodes)}): it comes from {where}"


class Document(QObject):
    """The project being edited; the only way the GUI changes it."""

    node_added = Signal(str)
    node_removed = Signal(str)
    node_changed = Signal(str)  # params, position or other ui
    edge_added = Signal(object)
    edge_removed = Signal(object)
    backdrops_changed = Signal()  # the project's top-level ui
    project_changed = Signal()  # name, description or resources
    reset = Signal()  # the whole project was replaced: new, open, restore
    modified_changed = Signal(bool)
    path_changed = Signal()
    registry_changed = Signal()  # a node type was registered while the app runs
    saved = Signal(object)  # the Path written

    def __init__(self, registry: Registry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.undo_stack.indexChanged.connect(self._bump)
        for sig in (
            self.node_added,
            self.node_removed,
            self.node_changed,
            self.edge_added,
            self.edge_removed,
        ):
            sig.connect(self._bump)  # merged commands change the project without a new index
        self.project = Project(name="Untitled")
        self.path: Path | None = None
        self._loaded_text: str | None = None  # the file as read, written back while unchanged
        self._loaded_canonical: str | None = None
        self._implicit: dict[str, tuple[int, int]] = {}
        self._revision = 0
        self._inference: tuple[int, Inference] | None = None

    # ------------------------------------------------------------------ state

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def title(self) -> str:
        """What the window shows: the project's name, else the file name."""
        if self.project.name:
            return self.project.name
        return self.path.name.removesuffix(projectfile.SUFFIX) if self.path else "Untitled"

    @property
    def base_dir(self) -> Path:
        """Where relative paths resolve: the project file's folder."""
        return self.path.resolve().parent if self.path else Path.cwd()

    def node(self, node_id: str) -> Node:
        return self.project.node(node_id)

    def spec(self, node_id: str) -> NodeSpec | None:
        """The node's type, or None for a placeholder of a missing type."""
        return self.registry.find(self.node(node_id).type)

    def position(self, node_id: str) -> tuple[float, float]:
        """The node's `ui` position, or where the layout put a node saved without one."""
        ui = self.node(node_id).ui or {}
        if isinstance(ui.get("x"), int | float) and isinstance(ui.get("y"), int | float):
            return (ui["x"], ui["y"])
        if node_id not in self._implicit:
            self._implicit.update(layered_positions(self.project))
        return self._implicit.get(node_id, (0, 0))

    def missing_types(self) -> list[MissingType]:
        """Types not in the registry, in file order (they block a run with `reason()`)."""
        found: dict[str, list[Node]] = {}
        for node in self.project.nodes:
            if node.type not in self.registry:
                found.setdefault(node.type, []).append(node)
        return [
            MissingType(t, next((n.plugin for n in nodes if n.plugin), None), tuple(n.id for n in nodes))
            for t, nodes in found.items()
        ]

    def run_blocked_reason(self) -> str | None:
        """Why the project cannot run as it is open (a missing node type), or None."""
        missing = self.missing_types()
        return "; ".join(m.reason() for m in missing) if missing else None

    def inference(self) -> Inference:
        """Schemas of every port (cached until the next edit); column editors offer these."""
        from engine.validate import check

        if self._inference is None or self._inference[0] != self._revision:
            self._inference = (self._revision, check(self.project, self.registry, self.base_dir)[1])
        return self._inference[1]

    def input_schema(self, node_id: str, port: str = "in") -> Schema | None:
        """The schema arriving at an input port, when inference knows it."""
        for edge in self.project.edges:
            if edge.target.node == node_id and edge.target.port == port:
                return self.inference().output(edge.source.node, edge.source.port)
        return None

    # ------------------------------------------------------------------ files

    def new(self) -> None:
        self._replace(Project(name="Untitled"), None, None)

    def open(self, path: str | Path) -> None:
        """Load a project; unknown node types stay as placeholders with params and edges.

        Nodes saved by an older version of their type are migrated (params and type name); such
        a file is written back migrated on the next save, not as it was read.
        """
        path = Path(path)
        project = projectfile.load(path, self.registry)
        text = path.read_text(encoding="utf-8")
        self._replace(project, path, None if _was_migrated(project, text) else text)

    def load_text(self, text: str, path: str | Path | None = None, *, modified: bool = False) -> None:
        """Replace the project with `text` (e.g. a recovered autosave, which counts as modified)."""
        project = projectfile.loads(text, self.registry, source=str(path) if path else None)
        keep = not modified and not _was_migrated(project, text)
        self._replace(project, Path(path) if path else None, text if keep else None)
        if modified:
            self.undo_stack.resetClean()

    def save(self, path: str | Path | None = None) -> Path:
        """Write atomically and mark the stack clean; unchanged files get their own text back."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("the project has no file yet: give a path")
        text = projectfile.dumps(self.project)
        if self._loaded_text is not None and text == self._loaded_canonical:
            text = self._loaded_text
        projectfile.write_atomic(target, text.encode("utf-8"))
        self._loaded_text = self._loaded_canonical = text
        if target != self.path:
            self.path = target
            self.path_changed.emit()
        self.undo_stack.setClean()
        self.saved.emit(target)
        return target

    def _replace(self, project: Project, path: Path | None, text: str | None) -> None:
        self.project = project
        self.path = path
        self._loaded_text = text
        self._loaded_canonical = projectfile.dumps(project) if text is not None else None
        self._implicit = layered_positions(project)
        self.undo_stack.clear()
        self._bump()
        self.reset.emit()
        self.path_changed.emit()
        self.modified_changed.emit(self.modified)

    @Slot()
    @Slot(str)
    @Slot(object)
    def _bump(self, *_args: object) -> None:
        self._revision += 1

    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self.modified_changed.emit(not clean)

    # ------------------------------------------------------------------ edits

    @contextlib.contextmanager
    def macro(self, text: str) -> Iterator[None]:
        """Group several commands into one undo step (e.g. a reconnect)."""
        self.undo_stack.beginMacro(text)
        try:
            yield
        finally:
            self.undo_stack.endMacro()

    def unique_id(self, base: str, taken: Iterable[str] = ()) -> str:
        """`base_1`, `base_2`, ...: the first id no node uses (FORMAT.md id pattern)."""
        base = _ID_CHARS.sub("_", base).strip("_") or "node"
        if not re.match(r"[A-Za-z_]", base):
            base = f"n_{base}"
        used = {n.id for n in self.project.nodes} | set(taken)
        n = 1
        while f"{base}_{n}" in used:
            n += 1
        return f"{base}_{n}"

    def add_node(
        self,
        type_name: str,
        params: dict[str, Any] | None = None,
        pos: tuple[float, float] = (0, 0),
        node_id: str | None = None,
    ) -> str:
        spec = self.registry.find(type_name)
        if spec is None:
            raise KeyError(f"unknown node type '{type_name}'")
        if node_id is None:
            node_id = self.unique_id(spec.type)
        elif any(n.id == node_id for n in self.project.nodes):
            raise ValueError(f"the id '{node_id}' is taken")
        node = Node(
            id=node_id,
            type=spec.type,
            version=spec.version,
            plugin=spec.plugin,
            params=dict(params or {}),
            ui={"x": round(pos[0]), "y": round(pos[1])},
        )
        self.undo_stack.push(commands.AddNodes(self, [node], [], f"Add {node_id}"))
        return node_id

    def remove_nodes(self, ids: Iterable[str]) -> None:
        ids = [i for i in ids if any(n.id == i for n in self.project.nodes)]
        if ids:
            self.undo_stack.push(commands.RemoveNodes(self, ids))

    def can_connect(
        self, src: str | PortRef, dst: str | PortRef, *, replacing: Iterable[Edge] = ()
    ) -> str | None:
        """Why `src -> dst` is refused (None when it is fine); `replacing` edges count as gone."""
        src, dst = _ref(src), _ref(dst)
        ids = {n.id for n in self.project.nodes}
        for ref in (src, dst):
            if ref.node not in ids:
                return f"there is no node '{ref.node}'"
        s_spec, d_spec = self.spec(src.node), self.spec(dst.node)
        for ref, spec in ((src, s_spec), (dst, d_spec)):
            if spec is None:
                return f"'{ref.node}' stands for the missing node type '{self.node(ref.node).type}': it takes no new edges"
        assert s_spec is not None and d_spec is not None
        if s_spec.output(src.port) is None:
            if s_spec.input(src.port) is not None:
                return "connect an output to an input"
            return f"'{src.node}' ({s_spec.type}) has no output '{src.port}'"
        if d_spec.input(dst.port) is None:
            if d_spec.output(dst.port) is not None:
                return "connect an output to an input"
            return f"'{dst.node}' ({d_spec.type}) has no input '{dst.port}'"
        if src.node == dst.node:
            return "a node cannot feed itself"
        gone = list(replacing)
        edges = [e for e in self.project.edges if e not in gone]
        for e in edges:
            if e.target == dst:
                return f"input {dst} already has an edge (from {e.source}); an input takes one"
        path = _path(self.project, dst.node, src.node, gone)
        if path:
            return f"that would make a cycle: {' -> '.join([*path, dst.node])}"
        return None

    def connect(self, src: str | PortRef, dst: str | PortRef) -> Edge:
        reason = self.can_connect(src, dst)
        if reason:
            raise ValueError(reason)
        edge = Edge.of(str(_ref(src)), str(_ref(dst)))
        self.undo_stack.push(commands.Connect(self, edge))
        return edge

    def disconnect(self, edge: Edge) -> None:
        self.undo_stack.push(commands.Disconnect(self, edge))

    def set_param(self, node_id: str, name: str, value: Any, *, continuous: bool = False) -> None:
        """Set a param (None unsets it); `continuous` steps of one param merge into one undo."""
        node = self.node(node_id)
        if node.params.get(name) == value and (value is not None or name not in node.params):
            return
        self.undo_stack.push(commands.SetParam(self, node_id, name, value, continuous=continuous))

    def move_nodes(
        self, positions: dict[str, tuple[float, float]], *, continuous: bool = False, text: str | None = None
    ) -> None:
        """One undo step for a drag; `continuous` moves of the same nodes merge."""
        uis: dict[str, dict[str, Any] | None] = {}
        for nid, (x, y) in positions.items():
            ui = dict(self.node(nid).ui or {})
            ui.update(x=round(x), y=round(y))
            if ui != self.node(nid).ui:
                uis[nid] = ui
        if uis:
            n = len(uis)
            text = text or (f"Move {next(iter(uis))}" if n == 1 else f"Move {n} nodes")
            self.undo_stack.push(commands.SetNodeUi(self, uis, text, continuous=continuous))

    def auto_layout(self) -> None:
        """Lay every node out by graph depth: one undo step (none when nothing moves)."""
        positions = layered_positions(self.project)
        self.move_nodes({nid: (float(x), float(y)) for nid, (x, y) in positions.items()}, text="Auto layout")

    def set_name(self, name: str) -> None:
        if name != self.project.name:
            self.undo_stack.push(commands.SetProjectField(self, "name", name, "Rename project"))

    def set_description(self, text: str | None) -> None:
        if text != self.project.description:
            self.undo_stack.push(
                commands.SetProjectField(self, "description", text or None, "Edit description")
            )

    def set_resources(self, resources: Resources | None) -> None:
        if resources != self.project.resources:
            self.undo_stack.push(commands.SetProjectField(self, "resources", resources, "Set resources"))

    # ------------------------------------------------------------------ backdrops (top-level ui)

    def backdrops(self) -> list[dict[str, Any]]:
        items = (self.project.ui or {}).get("backdrops", [])
        return [dict(b) for b in items if isinstance(b, dict) and isinstance(b.get("id"), str)]

    def add_backdrop(self, rect: tuple[float, float, float, float], title: str = "Backdrop") -> str:
        taken = {b["id"] for b in self.backdrops()}
        bid = next(f"backdrop_{n}" for n in range(1, len(taken) + 2) if f"backdrop_{n}" not in taken)
        x, y, w, h = (round(v) for v in rect)
        backdrop = {"id": bid, "title": title, "x": x, "y": y, "width": w, "height": h}
        self._set_backdrops([*self.backdrops(), backdrop], "Add backdrop")
        return bid

    def update_backdrop(self, backdrop_id: str, **changes: Any) -> None:
        changes = {k: round(v) if isinstance(v, float) else v for k, v in changes.items()}
        items = [dict(b, **changes) if b["id"] == backdrop_id else b for b in self.backdrops()]
        if items != self.backdrops():
            self._set_backdrops(items, "Edit backdrop")

    def remove_backdrops(self, ids: Iterable[str]) -> None:
        gone = set(ids)
        items = [b for b in self.backdrops() if b["id"] not in gone]
        if len(items) != len(self.backdrops()):
            self._set_backdrops(items, "Delete backdrop")

    def _set_backdrops(self, items: list[dict[str, Any]], text: str) -> None:
        ui = dict(self.project.ui or {})
        if items:
            ui["backdrops"] = items
        else:
            ui.pop("backdrops", None)
        self.undo_stack.push(commands.SetProjectField(self, "ui", ui or None, text))

    # ------------------------------------------------------------------ clipboard

    def copy(self, ids: Iterable[str]) -> str:
        """JSON of the nodes (with positions) and the edges between them."""
        wanted = set(ids)
        nodes = [n for n in self.project.nodes if n.id in wanted]
        out = []
        for n in nodes:
            data = n.to_json()
            x, y = self.position(n.id)
            data["ui"] = {**(n.ui or {}), "x": x, "y": y}
            out.append(data)
        edges = [
            e.to_json() for e in self.project.edges if e.source.node in wanted and e.target.node in wanted
        ]
        return json.dumps({"format": FRAGMENT_FORMAT, "nodes": out, "edges": edges}, indent=2)

    def paste(self, fragment: str, offset: tuple[float, float] = (40, 40)) -> list[str]:
        """Add a copied fragment with fresh ids, shifted by `offset`; one undo step."""
        try:
            data = json.loads(fragment)
            if data.get("format") != FRAGMENT_FORMAT:
                raise ValueError("not a Graphmill fragment")
            nodes = [Node.model_validate(n) for n in data["nodes"]]
            edges = [Edge.model_validate(e) for e in data["edges"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"cannot paste: {exc}") from None
        new_ids: dict[str, str] = {}
        fresh: list[Node] = []
        for node in nodes:
            nid = self.unique_id(node.type, taken=new_ids.values())
            new_ids[node.id] = nid
            ui = dict(node.ui or {})
            ui["x"] = round(float(ui.get("x", 0)) + offset[0])
            ui["y"] = round(float(ui.get("y", 0)) + offset[1])
            fresh.append(node.model_copy(update={"id": nid, "ui": ui}, deep=True))
        kept = [
            Edge.of(f"{new_ids[e.source.node]}.{e.source.port}", f"{new_ids[e.target.node]}.{e.target.port}")
            for e in edges
            if e.source.node in new_ids and e.target.node in new_ids
        ]
        if fresh:
            self.undo_stack.push(commands.AddNodes(self, fresh, kept, f"Paste {len(fresh)} node(s)"))
        return [n.id for n in fresh]

    # ------------------------------------------------------------------ registry

    def register_node_type(self, spec: NodeSpec, *, plugin: str | None = None) -> NodeSpec:
        """Register a node type while the app runs; the palette and canvas pick it up."""
        spec = self.registry.register(spec, plugin=plugin)
        self._bump()
        self.registry_changed.emit()
        return spec


def _was_migrated(project: Project, text: str) -> bool:
    """Whether loading renamed a node type or migrated its params (the file says otherwise)."""
    return projectfile.loads(text).nodes != project.nodes


def _ref(value: str | PortRef) -> PortRef:
    return value if isinstance(value, PortRef) else PortRef.parse(value)


def _path(project: Project, start: str, goal: str, without: list[Edge]) -> list[str] | None:
    """Node ids on a path start -> ... -> goal along edges (minus `without`), or None."""
    if without:
        project = project.model_copy(update={"edges": [e for e in project.edges if e not in without]})
    succ = successors(project)
    prev: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        nid = queue.pop(0)
        if nid == goal:
            path = [nid]
            while (p := prev[path[-1]]) is not None:
                path.append(p)
            return path[::-1]
        for t in succ.get(nid, []):
            if t not in prev:
                prev[t] = nid
                queue.append(t)
    return None
