"""validate(): every problem found before reading data, naming the node and param."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import Issue, ProjectError, errors
from engine.projectfile import load, loads
from engine.validate import check_structure, validate
from tests.bad_projects import BAD_PROJECTS, Bad

EXAMPLES = sorted((Path(__file__).parents[2] / "resources" / "examples").glob("*.graphmill.json"))


def _issues(path: Path, registry) -> list[Issue]:
    try:
        project = load(path, registry)
    except ProjectError as exc:
        return exc.issues
    return validate(project, registry, path.parent)


@pytest.mark.parametrize("bad", BAD_PROJECTS, ids=lambda b: b.name)
def test_validate_bad_project_names_node_param_and_problem(bad: Bad, projects_path: Path, registry) -> None:
    found = errors(_issues(projects_path / f"{bad.name}.json", registry))
    matching = [i for i in found if bad.fragment in i.message]
    assert matching, f"no error containing {bad.fragment!r} in {[i.message for i in found]}"
    assert (matching[0].node, matching[0].param) == (bad.node, bad.param)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_validate_bundled_example_has_no_issues(path: Path, registry) -> None:
    assert _issues(path, registry) == []


def test_validate_several_problems_all_reported(registry) -> None:
    text = """{"format": "graphmill/1", "name": "x", "nodes": [
        {"id": "a", "type": "source.generate", "params": {"rows": -1, "sed": 1}},
        {"id": "b", "type": "compute", "params": {"filter": "nope > 1", "sort": ["-order_id"]}},
        {"id": "c", "type": "sink.parquet", "params": {}}],
      "edges": [{"from": "a.out", "to": "b.in"}]}"""
    found = validate(loads(text), registry, ".")
    where = {(i.node, i.param) for i in errors(found)}
    assert {("a", "rows"), ("a", "sed"), ("c", "path"), ("c", None)} <= where
    # a's params are wrong, so b's columns are unknown: no false "unknown column" on b
    assert not [i for i in found if i.node == "b"]


def test_validate_unknown_column_downstream_of_valid_source_reported(registry) -> None:
    text = """{"format": "graphmill/1", "nodes": [
        {"id": "a", "type": "source.generate", "params": {"rows": 10}},
        {"id": "b", "type": "clean", "params": {"rename": {"price": "unit_price"}}},
        {"id": "c", "type": "compute", "params": {"columns": {"v": "price * 2"}, "sort": ["-v", "nothere"]}}],
      "edges": [{"from": "a.out", "to": "b.in"}, {"from": "b.out", "to": "c.in"}]}"""
    found = errors(validate(loads(text), registry, "."))
    messages = {(i.param, i.message.split(" at column")[0]) for i in found}
    assert ("columns.v", "unknown column 'price' (did you mean 'unit_price'?)") in messages
    assert ("sort", "unknown column 'nothere'") in messages


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ([], None),
        ([("a", "b")], None),
        ([("a", "b"), ("b", "a")], "a -> b -> a"),
        ([("a", "a")], "a -> a"),
        ([("a", "b"), ("b", "c"), ("c", "b")], "b -> c -> b"),
    ],
)
def test_check_structure_cycles_named_in_order(edges: list[tuple[str, str]], expected: str | None) -> None:
    nodes = ",".join(f'{{"id": "{n}", "type": "clean"}}' for n in "abc")
    edge_json = ",".join(f'{{"from": "{s}.out", "to": "{t}.in{i}"}}' for i, (s, t) in enumerate(edges))
    project = loads(f'{{"format": "graphmill/1", "nodes": [{nodes}], "edges": [{edge_json}]}}')
    cycles = [i.message for i in check_structure(project) if "cycle" in i.message]
    assert cycles == ([f"the graph has a cycle: {expected}"] if expected else [])


def test_validate_merge_join_without_on_or_right_reported(registry) -> None:
    text = """{"format": "graphmill/1", "nodes": [
        {"id": "a", "type": "source.generate", "params": {"rows": 10}},
        {"id": "m", "type": "merge", "params": {"how": "inner"}}],
      "edges": [{"from": "a.out", "to": "m.left"}]}"""
    found = {(i.param, i.message) for i in errors(validate(loads(text), registry, "."))}
    assert ("on", "a 'inner' join needs key columns") in found
    assert ("how", "a 'inner' join needs the 'right' input connected") in found


def test_validate_missing_source_file_is_a_warning_not_an_error(registry, tmp_path: Path) -> None:
    text = """{"format": "graphmill/1", "nodes": [
        {"id": "a", "type": "source.csv", "params": {"path": "later.csv"}}], "edges": []}"""
    found = validate(loads(text), registry, tmp_path)
    assert [(i.severity, i.param) for i in found] == [("warning", "path")]
    assert str(tmp_path / "later.csv") in found[0].message
