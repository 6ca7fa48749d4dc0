"""Every command: undo, redo, undo, each compared as project JSON (Orange's test_schemeedit habit)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app import commands
from engine.models import Edge, Resources
from engine.projectfile import dumps


def check_undo_redo(doc, edit: Callable[[], object]) -> None:
    before = dumps(doc.project)
    index = doc.undo_stack.index()
    edit()
    after = dumps(doc.project)
    assert after != before
    assert doc.undo_stack.index() == index + 1, "one edit, one undo step"
    doc.undo_stack.undo()
    assert dumps(doc.project) == before
    doc.undo_stack.redo()
    assert dumps(doc.project) == after
    doc.undo_stack.undo()
    assert dumps(doc.project) == before


@pytest.fixture
def opened(doc, orders):
    doc.open(orders)
    return doc


def test_add_node_undo_redo_restores_json(opened):
    check_undo_redo(opened, lambda: opened.add_node("compute", {"filter": "price > 1"}, (10, 20)))


def test_remove_nodes_undo_restores_order_of_nodes_and_edges(opened):
    check_undo_redo(opened, lambda: opened.remove_nodes(["split", "tidy"]))


def test_connect_undo_redo_restores_json(opened):
    opened.disconnect(opened.project.edges[1])
    check_undo_redo(opened, lambda: opened.connect("tidy.out", "split.in"))


def test_disconnect_middle_edge_undo_puts_it_back_in_place(opened):
    check_undo_redo(opened, lambda: opened.disconnect(opened.project.edges[1]))


@pytest.mark.parametrize(
    ("node", "name", "value"),
    [
        ("split", "partitions", 3),  # replace in place
        ("split", "by", None),  # unset a key in the middle
        ("split", "key", ["region"]),  # a new key at the end
        ("stats", "aggregate", {"by": [], "values": {"n": "count()"}}),
    ],
)
def test_set_param_undo_redo_restores_json(opened, node, name, value):
    check_undo_redo(opened, lambda: opened.set_param(node, name, value))


def test_set_param_continuous_steps_merge_into_one_undo(opened):
    before = dumps(opened.project)
    for n in (9, 10, 11):
        opened.set_param("split", "partitions", n, continuous=True)
    assert opened.undo_stack.count() == 1
    assert opened.node("split").params["partitions"] == 11
    opened.undo_stack.undo()
    assert dumps(opened.project) == before


def test_move_nodes_is_one_undo_step(opened):
    check_undo_redo(opened, lambda: opened.move_nodes({"orders": (5, 6), "tidy": (300, 40)}))


def test_move_nodes_continuous_same_nodes_merge(opened):
    opened.move_nodes({"orders": (1, 0)}, continuous=True)
    opened.move_nodes({"orders": (2, 0)}, continuous=True)
    opened.move_nodes({"tidy": (2, 0)}, continuous=True)
    assert opened.undo_stack.count() == 2


def test_auto_layout_is_one_undo_step(opened):
    opened.move_nodes({"tidy": (40, 400), "out": (0, -300)})
    check_undo_redo(opened, opened.auto_layout)
    opened.auto_layout()
    count = opened.undo_stack.count()
    opened.auto_layout()
    assert opened.undo_stack.count() == count, "nothing moved: no undo step"


def test_paste_undo_redo_restores_json(opened):
    fragment = opened.copy(["tidy", "split"])
    check_undo_redo(opened, lambda: opened.paste(fragment))


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.set_name("Other"),
        lambda d: d.set_description(None),
        lambda d: d.set_resources(Resources(workers=2)),
        lambda d: d.set_resources(None),
        lambda d: d.add_backdrop((0, 0, 300, 200), "Input"),
    ],
)
def test_project_fields_undo_redo_restore_json(opened, edit):
    check_undo_redo(opened, lambda: edit(opened))


def test_backdrop_update_and_remove_undo_redo(opened):
    bid = opened.add_backdrop((0, 0, 300, 200))
    check_undo_redo(opened, lambda: opened.update_backdrop(bid, title="Load", x=10.4))
    check_undo_redo(opened, lambda: opened.remove_backdrops([bid]))
    assert opened.backdrops()[0]["id"] == bid


def test_commands_direct_push_changes_project(opened):
    """The classes work without the Document helpers too (the canvas may compose them)."""
    edge = Edge.of("orders.out", "tidy.in")
    check_undo_redo(opened, lambda: opened.undo_stack.push(commands.Disconnect(opened, edge)))
    with pytest.raises(ValueError, match="not a project field"):
        commands.SetProjectField(opened, "nodes", [], "x")
