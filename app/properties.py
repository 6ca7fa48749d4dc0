"""The properties panel: the selected node's params, one editor per param from its spec.

Each committed edit is checked with `Param.check` and becomes one `Document.set_param` (one
undo step); a value that does not pass is shown with its problem and not written. Column
editors offer what schema inference knows arrives at the param's `columns_from` input.
With no node selected, the panel edits the project's name and description.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.registry import Editor, NodeSpec

from .document import Document
from .editors import ParamEditor, PathEditor, make_editor, mono


class PropertiesPanel(QWidget):
    """Editors for one node's params (or the project's name when no node is selected)."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None
        self.editors: dict[str, ParamEditor] = {}
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.body = QWidget()
        self.form = QFormLayout(self.body)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.body)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.title)
        box.addWidget(scroll)
        document.node_changed.connect(self._on_node_changed)
        document.node_removed.connect(self._on_node_removed)
        document.reset.connect(lambda: self.show_node(None))
        document.project_changed.connect(self._on_project_changed)
        self.show_node(None)

    # ------------------------------------------------------------------ building

    def show_node(self, node_id: str | None) -> None:
        """Build the editors for a node (None: the project's own fields)."""
        self.node_id = node_id
        self.editors.clear()
        while self.form.rowCount():
            self.form.removeRow(0)
        if node_id is None:
            self._build_project()
            return
        node = self.document.node(node_id)
        spec = self.document.spec(node_id)
        if spec is None:
            self._build_placeholder(node_id)
            return
        self.title.setText(
            f"<b>{node_id}</b> &nbsp;<i>{spec.title}</i> ({spec.type})<br><small>{spec.doc}</small>"
        )
        for param in spec.params:
            schema = self._schema_for(node_id, spec, param.columns_from)
            editor = make_editor(param, schema)
            if isinstance(editor, PathEditor):
                editor.base_dir = self.document.base_dir
            editor.set_value(node.params.get(param.name))
            editor.committed.connect(
                lambda value, continuous, name=param.name: self._commit(name, value, continuous)
            )
            label = QLabel(param.name + (" *" if param.required else ""))
            label.setToolTip(param.doc)
            self.editors[param.name] = editor
            self.form.addRow(label, editor)
        unknown = [k for k in node.params if k not in {p.name for p in spec.params}]
        if unknown:
            self.form.addRow(QLabel(f"unknown params kept as they are: {', '.join(unknown)}"))

    def _schema_for(self, node_id: str, spec: NodeSpec, port: str | None) -> dict[str, str | None] | None:
        if port is None:
            return None
        schema = self.document.input_schema(node_id, port)
        return schema.as_dict() if schema is not None else None

    def _build_placeholder(self, node_id: str) -> None:
        node = self.document.node(node_id)
        plugin = f" from the plugin '{node.plugin}'" if node.plugin else ""
        self.title.setText(
            f"<b>{node_id}</b> &nbsp;<i>missing: {node.type}</i><br><small>This node type is not "
            f"installed{plugin}. Its params and edges are kept and saved unchanged; install it to "
            "edit or run the project.</small>"
        )
        text = QPlainTextEdit(json.dumps(node.params, indent=2))
        text.setReadOnly(True)
        text.setFont(mono())
        self.form.addRow(text)

    def _build_project(self) -> None:
        self.title.setText("<b>Project</b><br><small>Select a node to edit its params.</small>")
        self.name = QLineEdit(self.document.project.name)
        self.name.editingFinished.connect(lambda: self.document.set_name(self.name.text()))
        self.description = QPlainTextEdit(self.document.project.description or "")
        self.description.setFixedHeight(80)
        self.form.addRow("name", self.name)
        self.form.addRow("description", self.description)
        self.description.installEventFilter(self)

    def eventFilter(self, watched: Any, event: Any) -> bool:
        """The description is committed when it loses the focus."""
        if event.type() == event.Type.FocusOut and watched is getattr(self, "description", None):
            self.document.set_description(self.description.toPlainText() or None)
        return super().eventFilter(watched, event)

    # ------------------------------------------------------------------ edits

    def _commit(self, name: str, value: Any, continuous: bool) -> None:
        if self.node_id is None:
            return
        spec = self.document.spec(self.node_id)
        assert spec is not None
        param = spec.param(name)
        editor = self.editors[name]
        missing = ["is required"] if param.required else []
        problems = missing if value is None else param.check(value)
        if problems:
            editor.set_error("; ".join(problems))
            return
        if param.editor is not Editor.EXPRESSION and not _has_cell_error(editor):
            editor.set_error(None)
        self.document.set_param(self.node_id, name, value, continuous=continuous)

    # ------------------------------------------------------------------ document -> panel

    @Slot(str)
    def _on_node_changed(self, node_id: str) -> None:
        if node_id != self.node_id or self.document.spec(node_id) is None:
            return
        params = self.document.node(node_id).params
        for name, editor in self.editors.items():
            try:
                current = editor.value()
            except ValueError:
                current = object()
            if current != params.get(name):
                editor.set_value(params.get(name))

    @Slot(str)
    def _on_node_removed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.show_node(None)

    @Slot()
    def _on_project_changed(self) -> None:
        if self.node_id is None and self.name.text() != self.document.project.name:
            self.name.setText(self.document.project.name)


def _has_cell_error(editor: ParamEditor) -> bool:
    return not editor.error.isHidden() and "^" in editor.error.text()
