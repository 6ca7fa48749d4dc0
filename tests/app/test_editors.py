"""Editors: one per Editor kind, values in and out unchanged, expressions checked with positions."""

from __future__ import annotations

from typing import Any

import pytest

from app.editors import ColumnEditor, JsonEditor, TableEditor, check_expression, make_editor
from engine.registry import Editor, Param

SCHEMA = {"region": "string", "price": "float64", "quantity": "int64"}

ROUND_TRIPS: list[tuple[Editor, Any, Any]] = [
    (Editor.TEXT, str, "a;b"),
    (Editor.PATH, str, "data/in.csv"),
    (Editor.SAVE_PATH, str, "out/x.csv"),
    (Editor.BOOL, bool, False),
    (Editor.INT, int, 12),
    (Editor.FLOAT, float, 2.5),
    (Editor.EXPRESSION, str, "price * 2"),
    (Editor.COLUMN, str, "price"),
    (Editor.COLUMNS, list[str], ["region", "price"]),
    (Editor.SORT_KEYS, list[str], ["-price", "region"]),
    (Editor.MAPPING, dict[str, str], {"region": "area"}),
    (Editor.COLUMN_VALUES, dict[str, Any], {"price": 0, "region": "none", "flag": True}),
    (Editor.COLUMN_DTYPES, dict[str, str], {"price": "float64"}),
    (Editor.EXPRESSIONS, dict[str, str], {"total": "price * quantity", "big": "total > 10"}),
    (Editor.AGGREGATE, dict, {"by": ["region"], "values": {"n": "count()", "s": "sum(price)"}}),
    (Editor.TEXT_RULES, list, [{"column": "region", "lower": True, "remove": "[0-9]"}]),
    (Editor.TEXT_LIST, list[str], ["NA", "-"]),
    (Editor.JSON, dict, {"any": [1, 2]}),
]


@pytest.mark.parametrize(("kind", "type_", "value"), ROUND_TRIPS, ids=[str(k) for k, _, _ in ROUND_TRIPS])
def test_editor_shows_and_returns_the_same_value(qtbot, kind, type_, value):
    editor = make_editor(Param("p", type_, "doc", editor=kind), SCHEMA)
    qtbot.addWidget(editor)
    editor.set_value(value)
    assert editor.value() == value
    editor.set_value(None)
    assert editor.value() in (None, False)


def test_every_editor_kind_has_an_editor(qtbot):
    for kind in Editor:
        editor = make_editor(Param("p", Any, "doc", editor=kind))
        qtbot.addWidget(editor)
        assert editor.param.name == "p"


def test_column_editor_offers_input_columns_and_commits_one_name(qtbot):
    editor = make_editor(Param("p", str, "doc", required=True, editor=Editor.COLUMN), SCHEMA)
    qtbot.addWidget(editor)
    assert isinstance(editor, ColumnEditor)
    assert [editor.combo.itemText(i) for i in range(editor.combo.count())] == list(SCHEMA)
    assert editor.value() is None and editor.combo.lineEdit().placeholderText() == "required"
    with qtbot.waitSignal(editor.committed) as sig:
        editor.combo.setCurrentIndex(1)
        editor.combo.activated.emit(1)  # what picking an item from the list emits
    assert sig.args == ["price", False]
    editor.set_value("not_yet_there")  # typed by hand: kept as it is
    assert editor.value() == "not_yet_there"


def test_choice_without_choices_falls_back_to_text(qtbot):
    editor = make_editor(Param("p", str, "doc", editor=Editor.CHOICE))
    qtbot.addWidget(editor)
    assert not isinstance(editor, TableEditor)


def test_json_editor_refuses_bad_json(qtbot):
    editor = make_editor(Param("p", dict, "doc", editor=Editor.JSON))
    qtbot.addWidget(editor)
    assert isinstance(editor, JsonEditor)
    editor.text.setPlainText("{oops")
    with qtbot.assertNotEmitted(editor.committed):
        editor.apply.click()
    assert "not valid JSON" in editor.error.text()


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("price >", "invalid syntax", 7),
        ("pricee * 2", "unknown column 'pricee'", 0),
        ("region + 1", None, None),
        ("price * 2", "", None),
    ],
)
def test_check_expression_reports_the_position(text, message, position):
    problem = check_expression(text, SCHEMA)
    if message == "":
        assert problem is None
        return
    assert problem is not None
    if message:
        assert message in problem.message
    if position is not None:
        assert problem.position == position


def test_check_expression_without_schema_checks_syntax_only():
    assert check_expression("anything * 2", None) is None
    assert check_expression("a.b", None) is not None
