"""Pure DAG helpers."""

from __future__ import annotations

import pytest

from engine.graph import find_cycle, topological_order, upstream
from engine.projectfile import loads


def _project(edges: list[tuple[str, str]], ids: str = "abcd") -> object:
    nodes = ",".join(f'{{"id": "{n}", "type": "t"}}' for n in ids)
    edge_json = ",".join(f'{{"from": "{s}.out", "to": "{t}.in"}}' for s, t in edges)
    return loads(f'{{"format": "graphmill/1", "nodes": [{nodes}], "edges": [{edge_json}]}}')


@pytest.mark.parametrize(
    ("ids", "edges", "order"),
    [
        ("abcd", [], "abcd"),
        ("dcba", [("a", "b"), ("b", "c"), ("c", "d")], "abcd"),
        ("abcd", [("c", "a")], "bcad"),
        ("abcd", [("d", "a"), ("d", "b")], "cdab"),
    ],
)
def test_topological_order_inputs_first_ties_in_file_order(ids: str, edges: list, order: str) -> None:
    result = topological_order(_project(edges, ids))
    assert "".join(n.id for n in result) == order


def test_topological_order_cycle_gives_none() -> None:
    assert topological_order(_project([("a", "b"), ("b", "a")])) is None


def test_find_cycle_ignores_edges_to_unknown_nodes() -> None:
    assert find_cycle(_project([("a", "zz"), ("a", "b")])) is None


def test_upstream_nearest_first() -> None:
    project = _project([("a", "b"), ("b", "d"), ("c", "d")])
    assert upstream(project, "d") == ["b", "c", "a"]
