"""Layered layout: columns by depth, fan-outs centred, cycles tolerated."""

from __future__ import annotations

from app.layout import X_STEP, layered_positions
from engine.models import Project


def _project(nodes: list[str], edges: list[tuple[str, str]]) -> Project:
    return Project.model_validate(
        {
            "nodes": [{"id": n, "type": "clean"} for n in nodes],
            "edges": [{"from": f"{a}.out", "to": f"{b}.in"} for a, b in edges],
        }
    )


def test_layered_positions_columns_follow_longest_path():
    pos = layered_positions(_project(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("a", "c"), ("a", "d")]))
    assert pos["a"][0] == 0 and pos["b"][0] == X_STEP and pos["c"][0] == 2 * X_STEP
    assert pos["d"][0] == X_STEP and pos["b"][1] != pos["d"][1]


def test_layered_positions_centres_each_column():
    pos = layered_positions(_project(["a", "b", "c"], [("a", "b"), ("a", "c")]))
    assert pos["a"][1] == 0 and pos["b"][1] == -pos["c"][1]


def test_layered_positions_cycle_falls_back_to_file_order():
    pos = layered_positions(_project(["a", "b"], [("a", "b"), ("b", "a")]))
    assert pos["a"][0] < pos["b"][0]
