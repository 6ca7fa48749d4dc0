"""Project files: load with clear errors, migrations, canonical and atomic save."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import ProjectError
from engine.models import Edge, Node, Project, Resources
from engine.projectfile import dumps, load, loads, resolve_path, save
from engine.registry import NodeSpec, Param, Registry, Shape

EXAMPLES = sorted((Path(__file__).parents[2] / "resources" / "examples").glob("*.graphmill.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_load_then_save_bundled_example_is_byte_identical(path: Path, registry) -> None:
    text = path.read_text(encoding="utf-8")
    assert dumps(load(path, registry)) == text


def test_loads_handwritten_file_saves_canonically_and_stably() -> None:
    text = '{"nodes": [{"params": {"rows": 5, "seed": null}, "type": "source.generate", "id": "g"}], "format": "graphmill/1"}'
    first = dumps(loads(text))
    assert json.loads(first) == {
        "format": "graphmill/1",
        "name": "",
        "nodes": [{"id": "g", "type": "source.generate", "params": {"rows": 5, "seed": None}}],
        "edges": [],
    }
    assert dumps(loads(first)) == first


def test_loads_json_syntax_error_gives_line_and_column() -> None:
    with pytest.raises(ProjectError) as info:
        loads('{\n  "format": "graphmill/1",\n  "nodes": [}\n', source="p.graphmill.json")
    (issue,) = info.value.issues
    assert issue.line == 3
    assert issue.format("p.graphmill.json").startswith("p.graphmill.json:3: error: invalid JSON:")
    assert "(column 13)" in issue.message


def test_loads_duplicate_key_refused() -> None:
    with pytest.raises(ProjectError, match="the key 'name' appears twice"):
        loads('{"format": "graphmill/1", "name": "a", "name": "b"}')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "not a Graphmill project: the file is not a JSON object"),
        ('{"format": "graphmill/9"}', "format 'graphmill/9', written by a newer Graphmill"),
        ('{"format": "orange/1"}', "unknown format 'orange/1'"),
        ('{"format": 1}', "unknown format 1"),
        ('{"format": "graphmill/1", "nodes": {}}', "Input should be a valid list"),
        (
            '{"format": "graphmill/1", "nodes": [{"id": "a", "type": "clean", "params": []}]}',
            "params must be a JSON object, not a list",
        ),
        (
            '{"format": "graphmill/1", "edges": [{"from": "a", "to": "b.in"}]}',
            "'a' is not of the form node.port",
        ),
        (
            '{"format": "graphmill/1", "edges": [{"from": "a.out", "to": "b.in", "w": 1}]}',
            "unknown key 'w' in edge #1 (a.out -> b.in)",
        ),
        (
            '{"format": "graphmill/1", "nodes": [{"id": "a", "type": "clean", "version": 0}]}',
            "greater than or equal to 1",
        ),
        (
            '{"format": "graphmill/1", "resources": {"device": "tpu"}}',
            "Input should be 'cpu', 'gpu' or 'auto'",
        ),
        (
            '{"format": "graphmill/1", "resources": {"workers": true}}',
            "workers must be an integer >= 1 or 'auto', not True",
        ),
    ],
)
def test_loads_bad_shape_reports_clear_message(text: str, message: str) -> None:
    with pytest.raises(ProjectError) as info:
        loads(text)
    assert any(message in i.message for i in info.value.issues), [i.message for i in info.value.issues]


def test_loads_node_issue_points_at_the_node_line() -> None:
    text = '{"format": "graphmill/1",\n "nodes": [\n  {"id": "a", "type": "clean"},\n  {"id": "b", "type": "clean", "x": 1}]}'
    with pytest.raises(ProjectError) as info:
        loads(text)
    (issue,) = info.value.issues
    assert (issue.node, issue.line) == ("b", 4)


def test_loads_format_migration_applied_in_order() -> None:
    def zero_to_one(raw: dict) -> dict:
        title = raw.pop("title")
        return {**raw, "format": "graphmill/1", "name": title}

    project = loads(
        '{"format": "graphmill/0", "title": "old"}', format_migrations={"graphmill/0": zero_to_one}
    )
    assert project.name == "old"


def _versioned_registry() -> Registry:
    spec = NodeSpec(
        type="scale",
        family="compute",
        title="Scale",
        doc="Multiplies a column.",
        shape=Shape.ROW_LOCAL,
        schema=lambda ctx: ctx.input(),
        params=(Param("column", str, "Column."), Param("factor", float, "Factor.")),
        version=3,
        migrations={
            1: lambda p: {"column": p.pop("col"), **p},
            2: lambda p: {k: v for k, v in p.items() if k != "times"} | {"factor": float(p["times"])},
        },
        legacy_types=("multiply",),
    )
    return Registry([spec])


def test_loads_node_params_migrated_and_type_renamed() -> None:
    text = '{"format": "graphmill/1", "nodes": [{"id": "n", "type": "multiply", "params": {"col": "x", "times": 2}}]}'
    node = loads(text, _versioned_registry()).nodes[0]
    assert (node.type, node.version, node.params) == ("scale", 3, {"column": "x", "factor": 2.0})


def test_loads_node_from_newer_plugin_version_refused() -> None:
    text = '{"format": "graphmill/1", "nodes": [{"id": "n", "type": "scale", "version": 4}]}'
    with pytest.raises(ProjectError, match=r"saved with params version 4 of 'scale'.*knows version 3"):
        loads(text, _versioned_registry())


def test_loads_failing_migration_names_the_node() -> None:
    text = '{"format": "graphmill/1", "nodes": [{"id": "n", "type": "scale", "version": 2, "params": {}}]}'
    with pytest.raises(ProjectError) as info:
        loads(text, _versioned_registry())
    assert info.value.issues[0].node == "n"
    assert "cannot migrate params from version 2 to 3" in info.value.issues[0].message


def test_save_replaces_file_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.graphmill.json"
    path.write_text("original")
    os.chmod(path, 0o640)

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save(Project(name="new"), path)
    assert path.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["p.graphmill.json"]
    monkeypatch.undo()
    save(Project(name="new"), path)
    assert json.loads(path.read_text())["name"] == "new"
    assert path.stat().st_mode & 0o777 == 0o640


def test_load_missing_file_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="no such project file"):
        load(tmp_path / "nope.graphmill.json")


@pytest.mark.parametrize(
    ("path", "expected"),
    [("data/a.csv", "/base/data/a.csv"), ("/abs/a.csv", "/abs/a.csv"), ("../a.csv", "/base/../a.csv")],
)
def test_resolve_path_relative_to_base_dir_not_cwd(path: str, expected: str) -> None:
    assert str(resolve_path("/base", path)) == expected


# --- property: any valid project model saves and loads to itself -----------------------------

ids = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
resources = st.builds(
    Resources,
    backend=st.sampled_from([None, "auto", "sequential", "threads", "processes", "dask"]),
    workers=st.one_of(st.none(), st.just("auto"), st.integers(1, 64)),
    device=st.sampled_from([None, "cpu", "gpu", "auto"]),
    scheduler=st.none() | st.text(max_size=10),
)


@st.composite
def projects(draw: st.DrawFn) -> Project:
    node_ids = draw(st.lists(ids, max_size=5, unique=True))
    nodes = [
        Node(
            id=nid,
            type=draw(st.sampled_from(["source.generate", "clean", "compute", "merge", "my.plugin"])),
            version=draw(st.integers(1, 3)),
            plugin=draw(st.none() | st.text(min_size=1, max_size=6)),
            params=draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
            resources=draw(st.none() | resources),
            ui=draw(st.none() | st.dictionaries(st.text(max_size=4), json_values, max_size=2)),
        )
        for nid in node_ids
    ]
    edges = []
    if node_ids:
        for _ in range(draw(st.integers(0, 4))):
            a, b = draw(st.sampled_from(node_ids)), draw(st.sampled_from(node_ids))
            edges.append(Edge.of(f"{a}.out", f"{b}.{draw(st.sampled_from(['in', 'left', 'right']))}"))
    return Project(
        name=draw(st.text(max_size=10)),
        description=draw(st.none() | st.text(max_size=10)),
        resources=draw(st.none() | resources),
        nodes=nodes,
        edges=edges,
        ui=draw(st.none() | st.dictionaries(st.text(max_size=4), json_values, max_size=2)),
    )


@given(projects())
def test_save_load_any_valid_project_round_trips(project: Project) -> None:
    text = dumps(project)
    again = loads(text)
    assert again == project
    assert dumps(again) == text
