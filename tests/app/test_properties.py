"""The properties panel: typed editors from each param's declared editor, undoable commits."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QLineEdit

from app.editors import (
    AggregateEditor,
    BoolEditor,
    ChoiceEditor,
    ColumnEditor,
    ExpressionEditor,
    JsonEditor,
    NumberEditor,
    PathEditor,
    TableEditor,
)
from app.properties import PropertiesPanel
from engine.projectfile import dumps
from engine.registry import NodeSpec, Param, Shape


@pytest.fixture
def panel(doc, qtbot, orders):
    doc.open(orders)
    p = PropertiesPanel(doc)
    qtbot.addWidget(p)
    p.show()
    return p


def show(panel: PropertiesPanel, node_id: str | None) -> None:
    """Select a node's editors and let Qt show them (new child widgets appear on the next loop)."""
    panel.show_node(node_id)
    QApplication.processEvents()


def type_into(line: QLineEdit, text: str) -> None:
    line.setFocus()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Backspace)
    QTest.keyClicks(line, text)
    QTest.keyClick(line, Qt.Key.Key_Return)


def test_each_param_gets_the_editor_of_its_kind(panel):
    show(panel, "orders")
    assert isinstance(panel.editors["rows"], NumberEditor)
    assert isinstance(panel.editors["dataset"], ChoiceEditor)
    show(panel, "tidy")
    assert isinstance(panel.editors["text"], TableEditor)
    assert isinstance(panel.editors["drop_duplicates"], TableEditor)
    show(panel, "stats")
    assert isinstance(panel.editors["filter"], ExpressionEditor)
    assert isinstance(panel.editors["aggregate"], AggregateEditor)
    show(panel, "out")
    assert isinstance(panel.editors["path"], PathEditor)
    assert isinstance(panel.editors["overwrite"], BoolEditor)


def test_editors_show_the_saved_values(panel):
    show(panel, "stats")
    assert panel.editors["filter"].value() == "quantity > 0"
    assert panel.editors["columns"].value() == {"revenue": "quantity * price", "big": "revenue > 100"}
    assert panel.editors["aggregate"].value() == panel.document.node("stats").params["aggregate"]
    assert panel.editors["sort"].value() == ["-revenue"]
    show(panel, "tidy")
    assert panel.editors["text"].value() == panel.document.node("tidy").params["text"]
    assert panel.editors["drop_duplicates"].value() is True


def test_expression_validates_as_you_type_and_commits_only_when_valid(panel, doc):
    show(panel, "stats")
    editor = panel.editors["filter"]
    editor.line.setFocus()
    editor.line.selectAll()
    QTest.keyClicks(editor.line, "quantity > > 1")
    assert not editor.error.isHidden() and "^" in editor.error.text()
    QTest.keyClick(editor.line, Qt.Key.Key_Return)
    assert doc.node("stats").params["filter"] == "quantity > 0"
    type_into(editor.line, "quantiti > 1")
    assert "unknown column 'quantiti'" in editor.error.text()
    type_into(editor.line, "price > 2")
    assert editor.error.isHidden()
    assert doc.node("stats").params["filter"] == "price > 2"
    doc.undo_stack.undo()
    assert doc.node("stats").params["filter"] == "quantity > 0"
    assert editor.value() == "quantity > 0", "the panel follows undo"


def test_spin_box_commit_is_undoable_and_merges_steps(panel, doc):
    show(panel, "split")
    spin = panel.editors["partitions"].spin
    spin.setFocus()
    QTest.keyClick(spin, Qt.Key.Key_Up)
    QTest.keyClick(spin, Qt.Key.Key_Up)
    assert doc.node("split").params["partitions"] == 10
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert doc.node("split").params["partitions"] == 8 and spin.value() == 8


def test_spin_box_at_its_lowest_means_not_given(panel, doc):
    show(panel, "split")
    spin = panel.editors["partitions"].spin
    spin.setValue(spin.minimum())
    assert "partitions" not in doc.node("split").params
    assert spin.text() == "not set"


def test_choice_and_check_box_commit(panel, doc):
    show(panel, "split")
    combo = panel.editors["by"].combo
    combo.setCurrentIndex(combo.findData("hash"))
    combo.activated.emit(combo.currentIndex())
    assert doc.node("split").params["by"] == "hash"
    show(panel, "out")
    box = panel.editors["overwrite"].box
    assert box.isChecked()
    QTest.mouseClick(
        box, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(6, box.height() // 2)
    )
    assert doc.node("out").params["overwrite"] is False


def test_invalid_value_is_shown_not_committed(panel, doc):
    show(panel, "out")
    before = dumps(doc.project)
    editor = panel.editors["path"]
    type_into(editor.line, "")
    assert editor.error.text() == "is required"
    assert dumps(doc.project) == before


def test_column_editors_offer_the_input_columns(panel):
    show(panel, "tidy")
    drop = panel.editors["drop"]
    drop.add_row()
    combo = drop.cell(0, 0)
    assert isinstance(combo, QComboBox)
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names[:3] == ["order_id", "ts", "customer"]
    show(panel, "out")  # no columns_from: nothing to offer, no failure


def test_table_editor_rows_commit_one_set_param(panel, doc):
    show(panel, "tidy")
    drop = panel.editors["drop"]
    row = drop.add_row()
    combo = drop.cell(row, 0)
    combo.setCurrentText("comment")
    combo.activated.emit(0)
    assert doc.node("tidy").params["drop"] == ["comment"]
    doc.undo_stack.undo()
    assert "drop" not in doc.node("tidy").params


def test_mode_combo_switches_between_true_and_columns(panel, doc):
    show(panel, "tidy")
    dd = panel.editors["drop_duplicates"]
    dd.mode.setCurrentIndex(dd.mode.findData("list"))
    dd.mode.activated.emit(dd.mode.currentIndex())
    assert doc.node("tidy").params["drop_duplicates"] is True, "an empty list is not committed"
    row = dd.add_row()
    dd.cell(row, 0).setCurrentText("order_id")
    dd.commit()
    assert doc.node("tidy").params["drop_duplicates"] == ["order_id"]


def test_aggregate_editor_round_trips_and_edits(panel, doc):
    show(panel, "stats")
    agg = panel.editors["aggregate"]
    row = agg.values.add_row(["n", "count", ""])
    assert row == 5
    agg.values.commit()
    assert doc.node("stats").params["aggregate"]["values"]["n"] == "count()"


def test_expressions_table_marks_a_bad_cell(panel, doc):
    show(panel, "stats")
    cols = panel.editors["columns"]
    cell = cols.cell(0, 1)
    cell.setText("quantity *")
    assert cell.styleSheet() and "^" in cell.toolTip()


def test_placeholder_shows_params_read_only(doc, qtbot, project_copy):
    doc.open(project_copy("missing-plugin"))
    panel = PropertiesPanel(doc)
    qtbot.addWidget(panel)
    show(panel, "stats")
    assert "missing: geo.distance" in panel.title.text() and "graphmill-geo" in panel.title.text()
    assert panel.editors == {}


def test_project_name_edit_is_undoable(panel, doc):
    show(panel, None)
    type_into(panel.name, "Renamed")
    assert doc.project.name == "Renamed"
    doc.undo_stack.undo()
    assert panel.name.text() == "Revenue by region"


def test_run_time_type_gets_typed_editors(panel, doc):
    spec = NodeSpec(
        type="demo.bucket",
        family="plugins",
        title="Bucket",
        doc="Buckets a column.",
        shape=Shape.ROW_LOCAL,
        schema=lambda ctx: ctx.input(),
        params=(
            Param(
                "column", str, "Which column.", editor=__import__("engine").Editor.COLUMN, columns_from="in"
            ),
            Param("width", float, "Bucket width.", default=1.0, editor=__import__("engine").Editor.FLOAT),
            Param("labels", dict, "Anything else."),
            Param("exact", bool, "Exact edges.", editor=__import__("engine").Editor.BOOL),
        ),
    )
    doc.register_node_type(spec)
    nid = doc.add_node("demo.bucket")
    doc.connect("tidy.out", f"{nid}.in")
    show(panel, nid)
    assert isinstance(panel.editors["width"], NumberEditor)
    assert isinstance(panel.editors["exact"], BoolEditor)
    assert isinstance(panel.editors["column"], ColumnEditor)
    assert isinstance(panel.editors["labels"], (JsonEditor, type(panel.editors["labels"])))
    panel.editors["width"].spin.setValue(2.5)
    assert doc.node(nid).params["width"] == 2.5
    assert isinstance(panel.editors["exact"].box, QCheckBox)


def test_expressions_table_knows_columns_defined_by_earlier_rows(panel):
    show(panel, "stats")
    cols = panel.editors["columns"]
    big = cols.cell(1, 1)
    assert big.text() == "revenue > 100" and not big.styleSheet(), "revenue comes from the row above"
    cols.cell(0, 0).setText("rev")
    big.setText("revenue > 101")
    assert "unknown column 'revenue'" in big.toolTip()
