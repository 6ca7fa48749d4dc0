"""One editor widget per `Param.editor` kind; the properties panel lays them out.

An editor shows a value and emits `committed(value, continuous)` when the person finishes an
edit (Enter, focus out, a click); `None` means "not given". It never writes the project: the
panel checks the value with `Param.check` and calls `Document.set_param`, or shows the problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.expr import ExprError
from engine.expr import parse as parse_expression
from engine.registry import Editor, Param
from engine.schema import DTYPES

AGG_FUNCTIONS = ("count", "sum", "mean", "min", "max", "std", "var", "nunique", "median", "first", "last")
_CALL = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$")
_ERROR_STYLE = "color: #e0564a;"


def mono() -> Any:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def check_expression(text: str, schema: dict[str, str | None] | None) -> ExprError | None:
    """The first problem of an expression (syntax, then columns and types), or None."""
    try:
        expr = parse_expression(text)
        if schema is not None:
            unknown = [c for c in expr.columns if c not in schema]
            if unknown:
                pos = text.find(unknown[0])
                return ExprError(text, f"unknown column '{unknown[0]}'", pos if pos >= 0 else None)
        expr.infer_type(schema)
    except ExprError as exc:
        return exc
    return None


class ParamEditor(QWidget):
    """Base of every editor: a value in, `committed` out, and a line for a problem."""

    committed = Signal(object, bool)  # value (None: not given), continuous

    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__()
        self.param = param
        self.schema = schema
        self.columns = list(schema) if schema else []
        self.error = QLabel()
        self.error.setStyleSheet(_ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        self.setToolTip(param.doc)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def set_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))

    def commit(self, continuous: bool = False) -> None:
        self.committed.emit(self.value(), continuous)

    def _stack(self, *widgets: QWidget) -> None:
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        for w in widgets:
            box.addWidget(w)
        box.addWidget(self.error)


def _default_text(param: Param) -> str:
    return (
        "required"
        if param.required
        else f"default: {param.default}"
        if param.default is not None
        else "not set"
    )


class TextEditor(ParamEditor):
    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__(param, schema)
        self.line = QLineEdit(placeholderText=_default_text(param))
        self.line.editingFinished.connect(self.commit)
        self._stack(self.line)

    def value(self) -> Any:
        return self.line.text() or None

    def set_value(self, value: Any) -> None:
        self.line.setText("" if value is None else str(value))


class PathEditor(TextEditor):
    """A path, with a file dialog; paths inside the project folder are kept relative."""

    base_dir: Path | None = None

    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__(param, schema)
        self.browse = QToolButton(text="…")
        self.browse.setToolTip("Choose a file")
        self.browse.clicked.connect(self.choose)
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.line)
        h.addWidget(self.browse)
        self.layout().insertWidget(0, row)

    def choose(self) -> None:
        start = str(self.base_dir or Path.cwd())
        if self.param.editor is Editor.SAVE_PATH:
            name, _ = QFileDialog.getSaveFileName(self, self.param.name, start)
        else:
            name, _ = QFileDialog.getOpenFileName(self, self.param.name, start)
        if name:
            path = Path(name)
            if self.base_dir is not None and path.is_relative_to(self.base_dir):
                path = path.relative_to(self.base_dir)
            self.line.setText(path.as_posix())
            self.commit()


class ChoiceEditor(ParamEditor):
    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__(param, schema)
        self.combo = QComboBox()
        self.combo.addItem(f"({_default_text(param)})", None)
        for choice in param.choices or ():
            self.combo.addItem(str(choice), choice)
        self.combo.activated.connect(lambda _index: self.commit())
        self._stack(self.combo)

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(value)
        self.combo.setCurrentIndex(max(index, 0))


class ColumnEditor(ParamEditor):
    """One column name: the input's columns to pick from, or typed by hand (when the input's
    columns are not known before a run, or to fix a name that validation reported)."""

    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__(param, schema)
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.addItems(self.columns)
        self.combo.lineEdit().setPlaceholderText(_default_text(param))
        self.combo.setCurrentIndex(-1)
        self.combo.lineEdit().editingFinished.connect(self.commit)
        self.combo.activated.connect(lambda _index: self.commit())
        self._stack(self.combo)

    def value(self) -> Any:
        return self.combo.currentText().strip() or None

    def set_value(self, value: Any) -> None:
        self.combo.setCurrentText("" if value is None else str(value))


class BoolEditor(ParamEditor):
    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__(param, schema)
        self.box = QCheckBox(param.name.replace("_", " "))
        self.box.clicked.connect(lambda _checked: self.commit())
        self._stack(self.box)

    def value(self) -> Any:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.setChecked(bool(self.param.default if value is None else value))


class NumberEditor(ParamEditor):
    """Our own spin boxes; the lowest position means "not given" (the engine's default)."""

    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__(param, schema)
        bounds = param.json_schema()
        is_int = param.editor is Editor.INT
        low = bounds.get("minimum", bounds.get("exclusiveMinimum", -1e9 if is_int else -1e15))
        if "exclusiveMinimum" in bounds and "minimum" not in bounds:
            low += 1 if is_int else 1e-9
        self.low = low
        self.spin: QSpinBox | QDoubleSpinBox = QSpinBox() if is_int else QDoubleSpinBox()
        if is_int:
            self.spin.setRange(int(max(low - 1, -(2**31) + 1)), 2**31 - 1)
        else:
            self.spin.setDecimals(6)
            self.spin.setRange(low - 1, 1e15)
        self.spin.setSpecialValueText(_default_text(param))
        self.spin.setKeyboardTracking(False)
        self.spin.valueChanged.connect(lambda _v: self.commit(continuous=True))
        self._stack(self.spin)

    def value(self) -> Any:
        v = self.spin.value()
        if v == self.spin.minimum():
            return None
        return int(v) if isinstance(self.spin, QSpinBox) else float(v)

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(self.spin.minimum() if value is None else value)
        self.spin.blockSignals(False)


class ExpressionEditor(ParamEditor):
    """An expression checked by the engine's parser as you type; commits only when valid."""

    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__(param, schema)
        self.line = QLineEdit(placeholderText="e.g. quantity > 0")
        self.line.setFont(mono())
        self.error.setFont(mono())
        self.line.textChanged.connect(self.validate)
        self.line.editingFinished.connect(self._finish)
        self._stack(self.line)

    def validate(self) -> ExprError | None:
        text = self.line.text()
        problem = check_expression(text, self.schema) if text.strip() else None
        self.set_error(f"{problem.message}\n{problem.pointer()}" if problem else None)
        return problem

    def _finish(self) -> None:
        if self.validate() is None:
            self.commit()

    def value(self) -> Any:
        return self.line.text().strip() or None

    def set_value(self, value: Any) -> None:
        self.line.setText(value or "")


class JsonEditor(ParamEditor):
    """Raw JSON, for params no other editor fits; applied with the button or Ctrl+Enter."""

    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__(param, schema)
        self.text = QPlainTextEdit()
        self.text.setFont(mono())
        self.text.setFixedHeight(80)
        self.apply = QPushButton("Apply")
        self.apply.clicked.connect(self._apply)
        self._stack(self.text, self.apply)

    def keyPressEvent(self, event: Any) -> None:
        if (
            event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self._apply()
            return
        super().keyPressEvent(event)

    def _apply(self) -> None:
        try:
            self.value()
        except ValueError as exc:
            self.set_error(f"not valid JSON: {exc}")
            return
        self.commit()

    def value(self) -> Any:
        text = self.text.toPlainText().strip()
        return json.loads(text) if text else None

    def set_value(self, value: Any) -> None:
        self.text.setPlainText("" if value is None else json.dumps(value, indent=1))


# ------------------------------------------------------------------------------ table editors


@dataclass(frozen=True)
class Cell:
    """One column of a table editor: `kind` is text, column, choice, check or expression."""

    title: str
    kind: str = "text"
    choices: tuple[str, ...] = ()


class TableEditor(ParamEditor):
    """Rows of cells with add, remove and move buttons; `to_value`/`from_value` map rows."""

    def __init__(
        self,
        param: Param,
        schema: dict[str, str | None] | None,
        cells: list[Cell],
        to_value: Callable[[list[list[Any]]], Any],
        from_value: Callable[[Any], list[list[Any]]],
        modes: list[tuple[str, Any]] | None = None,
    ) -> None:
        super().__init__(param, schema)
        self.cells, self.to_value, self.from_value = cells, to_value, from_value
        self.table = QTableWidget(0, len(cells))
        self.table.setHorizontalHeaderLabels([c.title for c in cells])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.mode: QComboBox | None = None
        buttons = QWidget()
        h = QHBoxLayout(buttons)
        h.setContentsMargins(0, 0, 0, 0)
        if modes:
            self.mode = QComboBox()
            for label, data in modes:
                self.mode.addItem(label, data)
            self.mode.activated.connect(self._mode_changed)
            h.addWidget(self.mode)
        for text, tip, slot in (
            ("+", "Add a row", self.add_row),
            ("−", "Remove the selected row", self._remove),
            ("↑", "Move up", lambda: self._move(-1)),
            ("↓", "Move down", lambda: self._move(1)),
        ):
            b = QToolButton(text=text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            h.addWidget(b)
        h.addStretch()
        self._stack(buttons, self.table)

    # rows <-> widgets

    def add_row(self, values: list[Any] | None = None) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, cell in enumerate(self.cells):
            value = values[col] if values else None
            self.table.setCellWidget(row, col, self._cell_widget(cell, value))
        self._fit_height()
        return row

    def _fit_height(self) -> None:
        """As tall as its rows (at least two, at most eight), so the panel scrolls, not the table."""
        rows = min(max(self.table.rowCount(), 2), 8)
        height = (
            self.table.horizontalHeader().sizeHint().height()
            + rows * self.table.verticalHeader().defaultSectionSize()
        )
        self.table.setFixedHeight(height + 2 * self.table.frameWidth())

    def cell(self, row: int, col: int) -> QWidget:
        return self.table.cellWidget(row, col)

    def _cell_widget(self, cell: Cell, value: Any) -> QWidget:
        if cell.kind == "check":
            w = QCheckBox()
            w.setChecked(bool(value))
            w.clicked.connect(lambda _c: self.commit())
            return w
        if cell.kind in ("column", "choice"):
            combo = QComboBox()
            combo.setEditable(cell.kind == "column")
            combo.addItems(list(cell.choices) if cell.kind == "choice" else self.columns)
            combo.setCurrentText("" if value is None else str(value))
            if combo.isEditable():
                combo.lineEdit().editingFinished.connect(self.commit)
            combo.activated.connect(lambda _i: self.commit())
            return combo
        line = QLineEdit("" if value is None else str(value))
        if cell.kind == "expression":
            line.setFont(mono())
            line.textChanged.connect(lambda text, w=line: self._check_cell(w, text))
            self._check_cell(line, line.text())
        line.editingFinished.connect(self.commit)
        return line

    def _schema_before(self, line: QLineEdit) -> dict[str, str | None] | None:
        """The input columns plus those defined by earlier rows (`columns` run in order)."""
        if self.schema is None:
            return None
        schema = dict(self.schema)
        for row in range(self.table.rowCount()):
            name_cell, expr_cell = self.cell(row, 0), self.cell(row, 1)
            if expr_cell is line:
                break
            name = name_cell.text().strip() if isinstance(name_cell, QLineEdit) else ""
            text = expr_cell.text() if isinstance(expr_cell, QLineEdit) else ""
            if name:
                try:
                    schema[name] = parse_expression(text).infer_type(schema)
                except ExprError:
                    schema[name] = None
        return schema

    def _check_cell(self, line: QLineEdit, text: str) -> None:
        problem = check_expression(text, self._schema_before(line)) if text.strip() else None
        line.setStyleSheet("background: #5a2320;" if problem else "")
        line.setToolTip(f"{problem.message}\n{problem.pointer()}" if problem else "")
        self.set_error(f"{problem.message}: {problem.pointer()}" if problem else None)

    def rows(self) -> list[list[Any]]:
        out = []
        for row in range(self.table.rowCount()):
            values: list[Any] = []
            for col in range(len(self.cells)):
                w = self.cell(row, col)
                if isinstance(w, QCheckBox):
                    values.append(w.isChecked())
                elif isinstance(w, QComboBox):
                    values.append(w.currentText().strip())
                else:
                    values.append(w.text().strip())
            if values and values[0] not in ("", None):
                out.append(values)
        return out

    def value(self) -> Any:
        if self.mode is not None and self.mode.currentData() != "list":
            return self.mode.currentData()
        return self.to_value(self.rows()) if self.rows() else None

    def set_value(self, value: Any) -> None:
        is_list = not (self.mode is not None and (value is None or not isinstance(value, list | dict)))
        if self.mode is not None:
            self.mode.setCurrentIndex(max(self.mode.findData("list" if is_list else value), 0))
        self.table.setRowCount(0)
        if is_list and value is not None:
            for values in self.from_value(value):
                self.add_row(values)
        self.table.setEnabled(is_list)
        self._fit_height()

    def _mode_changed(self) -> None:
        listing = self.mode is not None and self.mode.currentData() == "list"
        self.table.setEnabled(listing)
        if listing and not self.rows():
            self.add_row()  # wait for the first column before committing
            return
        self.commit()

    def _remove(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)
            self._fit_height()
            self.commit()

    def _move(self, step: int) -> None:
        row = self.table.currentRow()
        rows = self.rows()
        if 0 <= row < len(rows) and 0 <= row + step < len(rows):
            rows[row], rows[row + step] = rows[row + step], rows[row]
            self.set_value(self.to_value(rows))
            self.table.setCurrentCell(row + step, 0)
            self.commit()


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _modes(param: Param) -> list[tuple[str, Any]] | None:
    """Non-list alternatives of a union param (e.g. 'any', true/false) for a mode combo."""
    schema = param.json_schema()
    options: list[tuple[str, Any]] = []
    for alt in schema.get("anyOf", []):
        if "const" in alt:
            options.append((str(alt["const"]), alt["const"]))
        for v in alt.get("enum", []):
            options.append((str(v), v))
        if alt.get("type") == "boolean":
            options += [("true (all columns)", True), ("false", False)]
    options = list({repr(v): (label, v) for label, v in options}.values())
    if not options:
        return None
    return [("(not set)", None), *options, ("these columns:", "list")]


def _agg_split(text: str) -> list[Any]:
    m = _CALL.match(text)
    return [m.group(1), m.group(2).strip()] if m else [text, ""]


def _text_rule(row: list[Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"column": row[0]}
    if row[1]:
        rule["lower"] = True
    if row[2]:
        rule["strip"] = True
    if row[3]:
        rule["remove"] = row[3]
    return rule


def make_editor(param: Param, schema: dict[str, str | None] | None = None) -> ParamEditor:
    """The editor for a param's declared kind (JSON for kinds without one)."""
    kind = param.editor
    col = Cell("column", "column")

    def table(
        cells: list[Cell], to: Callable[[list[list[Any]]], Any], fro: Callable[[Any], list[list[Any]]]
    ) -> TableEditor:
        return TableEditor(param, schema, cells, to, fro)

    if kind in (Editor.PATH, Editor.SAVE_PATH):
        return PathEditor(param, schema)
    if kind is Editor.CHOICE and param.choices:
        return ChoiceEditor(param, schema)
    if kind is Editor.BOOL:
        return BoolEditor(param, schema)
    if kind in (Editor.INT, Editor.FLOAT):
        return NumberEditor(param, schema)
    if kind is Editor.EXPRESSION:
        return ExpressionEditor(param, schema)
    if kind is Editor.COLUMN:
        return ColumnEditor(param, schema)
    if kind in (Editor.COLUMNS, Editor.TEXT_LIST):
        cell = Cell("value", "text") if kind is Editor.TEXT_LIST else col
        return TableEditor(
            param,
            schema,
            [cell],
            lambda rows: [r[0] for r in rows],
            lambda v: [[c] for c in v],
            _modes(param),
        )
    if kind is Editor.SORT_KEYS:
        return table(
            [col, Cell("descending", "check")],
            lambda rows: [f"-{c}" if d else c for c, d in rows],
            lambda v: [[k.removeprefix("-"), k.startswith("-")] for k in v],
        )
    if kind is Editor.MAPPING:
        return table([col, Cell("new name")], dict, lambda v: [[k, x] for k, x in v.items()])
    if kind is Editor.COLUMN_VALUES:
        return table(
            [col, Cell("value (JSON or text)")],
            lambda rows: {c: _json_or_text(x) for c, x in rows},
            lambda v: [[k, json.dumps(x) if not isinstance(x, str) else x] for k, x in v.items()],
        )
    if kind is Editor.COLUMN_DTYPES:
        return table([col, Cell("type", "choice", DTYPES)], dict, lambda v: [[k, x] for k, x in v.items()])
    if kind is Editor.EXPRESSIONS:
        return table(
            [Cell("name"), Cell("expression", "expression")], dict, lambda v: [[k, x] for k, x in v.items()]
        )
    if kind is Editor.TEXT_RULES:
        return table(
            [col, Cell("lower", "check"), Cell("strip", "check"), Cell("remove (regex)")],
            lambda rows: [_text_rule(r) for r in rows],
            lambda v: [
                [r.get("column"), r.get("lower", False), r.get("strip", False), r.get("remove", "")]
                for r in v
            ],
        )
    if kind is Editor.AGGREGATE:
        return AggregateEditor(param, schema)
    if kind is Editor.TEXT:
        return TextEditor(param, schema)
    return JsonEditor(param, schema)


class AggregateEditor(ParamEditor):
    """`by` columns and `values` rows (name, function, column) of a compute's aggregate."""

    def __init__(self, param: Param, schema: dict[str, str | None] | None = None) -> None:
        super().__init__(param, schema)
        by_param = Param("by", list[str], "Group by these columns.", editor=Editor.COLUMNS)
        self.by = make_editor(by_param, schema)
        self.values = TableEditor(
            param,
            schema,
            [Cell("name"), Cell("function", "choice", AGG_FUNCTIONS), Cell("column", "column")],
            lambda rows: {n: f"{f}({c})" for n, f, c in rows},
            lambda v: [[n, *_agg_split(x)] for n, x in v.items()],
        )
        for part in (self.by, self.values):
            part.committed.connect(lambda _v, _c: self.commit())
        self._stack(QLabel("group by"), self.by, QLabel("values"), self.values)

    def value(self) -> Any:
        by, values = self.by.value(), self.values.value()
        if by is None and values is None:
            return None
        return {"by": by or [], "values": values or {}}

    def set_value(self, value: Any) -> None:
        value = value if isinstance(value, dict) else {}
        self.by.set_value(value.get("by") or None)
        self.values.set_value(value.get("values") or None)
