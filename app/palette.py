"""The node palette: every registered node type, grouped by family, to drag onto the canvas.

Built from the registry each time it changes, so a type registered while the app runs shows up
with no GUI code. Double-click or Enter adds the type in the middle of the canvas.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMimeData, Qt, Signal, Slot
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine.registry import NodeSpec

from .canvas import node_mime
from .document import Document

FAMILIES = ("sources", "clean", "partition", "compute", "merge", "sinks", "plugins")
TYPE_ROLE = Qt.ItemDataRole.UserRole


def family_of(spec: NodeSpec) -> str:
    """The palette group: the spec's family when it is one of the built-in ones, else plugins."""
    return spec.family if spec.family in FAMILIES else "plugins"


class _Tree(QTreeWidget):
    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        types = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        return node_mime(types[0]) if types else QMimeData()


class Palette(QWidget):
    """Node types by family; drag one onto the canvas, or activate it to add it."""

    activated = Signal(str)  # a node type

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.filter = QLineEdit(placeholderText="Filter node types")
        self.filter.setClearButtonEnabled(True)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setRootIsDecorated(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree)
        self.filter.textChanged.connect(self._apply_filter)
        self.tree.itemActivated.connect(self._on_activated)
        document.registry_changed.connect(self.refresh)
        self.refresh()

    def types(self) -> dict[str, list[str]]:
        """Family -> node types as shown (visible or not)."""
        out: dict[str, list[str]] = {}
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            out[group.text(0)] = [group.child(j).data(0, TYPE_ROLE) for j in range(group.childCount())]
        return out

    def item(self, type_name: str) -> QTreeWidgetItem | None:
        found = [
            self.tree.topLevelItem(i).child(j)
            for i in range(self.tree.topLevelItemCount())
            for j in range(self.tree.topLevelItem(i).childCount())
            if self.tree.topLevelItem(i).child(j).data(0, TYPE_ROLE) == type_name
        ]
        return found[0] if found else None

    @Slot()
    def refresh(self) -> None:
        groups: dict[str, list[NodeSpec]] = {f: [] for f in FAMILIES}
        for spec in self.document.registry:
            groups[family_of(spec)].append(spec)
        self.tree.clear()
        for family in FAMILIES:
            if not groups[family]:
                continue
            group = QTreeWidgetItem([family])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for spec in groups[family]:
                item = QTreeWidgetItem([f"{spec.title}  ({spec.type})"])
                item.setData(0, TYPE_ROLE, spec.type)
                plugin = f"\nfrom plugin '{spec.plugin}'" if spec.plugin else ""
                item.setToolTip(0, f"{spec.type}: {spec.doc}{plugin}")
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
                )
                group.addChild(item)
            self.tree.addTopLevelItem(group)
            group.setExpanded(True)
        self._apply_filter(self.filter.text())

    @Slot(str)
    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            shown = 0
            for j in range(group.childCount()):
                child = group.child(j)
                hide = bool(needle) and needle not in f"{child.text(0)} {child.toolTip(0)}".lower()
                child.setHidden(hide)
                shown += not hide
            group.setHidden(shown == 0)

    @Slot(QTreeWidgetItem, int)
    def _on_activated(self, item: QTreeWidgetItem, column: int) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.activated.emit(type_name)
