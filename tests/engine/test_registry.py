"""The node-spec API and the registry: every built-in type is complete; plugins are found."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.errors import Issue
from engine.models import Node, Project
from engine.projectfile import dumps, loads
from engine.registry import Editor, NodeSpec, Param, Port, Registry, Shape, builtin_registry
from engine.schema import Schema, SchemaContext
from tests.geo_plugin import geo_registry

BUILTIN = list(builtin_registry())
REGISTERED = list(geo_registry())  # the built-ins and the example plugin's types
FORMAT_TYPES = {
    "source.csv",
    "source.parquet",
    "source.generate",
    "clean",
    "partition",
    "compute",
    "merge",
    "sink.csv",
    "sink.parquet",
}
# The smallest valid params of each built-in type: the round-trip and schema tests use them.
MINIMAL = {
    "source.csv": {"path": "data/x.csv"},
    "source.parquet": {"path": "data/x.parquet"},
    "source.generate": {"rows": 10},
    "sink.csv": {"path": "out/x.csv"},
    "sink.parquet": {"path": "out/x.parquet"},
    "geo.distance": {"from_lat": "a", "from_lon": "b", "to_lat": "c", "to_lon": "d"},
}


def test_builtin_registry_has_every_format_type() -> None:
    assert {s.type for s in BUILTIN} == FORMAT_TYPES


@pytest.mark.parametrize("spec", REGISTERED, ids=lambda s: s.type)
def test_node_spec_is_documented_with_param_schema(spec: NodeSpec) -> None:
    assert spec.doc and spec.title and spec.family
    for param in spec.params:
        assert param.doc, f"{spec.type}.{param.name} has no doc"
        schema = param.json_schema()
        assert schema["description"] == param.doc
        assert isinstance(param.editor, Editor)
        if param.default is not None:
            assert param.check(param.default) == [], f"{spec.type}.{param.name} default is invalid"


@pytest.mark.parametrize("spec", REGISTERED, ids=lambda s: s.type)
def test_node_spec_schema_function_handles_unknown_inputs(spec: NodeSpec, tmp_path: Path) -> None:
    params = spec.with_defaults(MINIMAL.get(spec.type, {}))
    ctx = SchemaContext("n", params, {p.name: None for p in spec.inputs}, tmp_path)
    result = spec.schema(ctx)
    assert result is None or isinstance(result, Schema | dict)
    assert all(i.severity == "warning" for i in ctx.issues)


@pytest.mark.parametrize("spec", REGISTERED, ids=lambda s: s.type)
def test_node_spec_minimal_node_round_trips_and_validates(spec: NodeSpec) -> None:
    node = Node(id="n", type=spec.type, version=spec.version, params=MINIMAL.get(spec.type, {}))
    project = Project(name="one", nodes=[node])
    again = loads(dumps(project), geo_registry())
    assert again == project
    assert spec.check_params("n", node.params) == []


def test_param_check_strict_types_and_choices() -> None:
    p = Param("n", int, "A number.", choices=(1, 2))
    assert p.check(1) == []
    assert p.check(True) != []
    assert p.check("1") != []
    assert p.check(3) == ["3 is not one of 1, 2"]


def test_node_spec_execution_shape_depends_on_params() -> None:
    reg = builtin_registry()
    assert reg["compute"].execution_shape({"filter": "a > 1"}) is Shape.ROW_LOCAL
    assert reg["compute"].execution_shape({"sort": ["a"]}) is Shape.GLOBAL
    assert reg["clean"].execution_shape({}) is Shape.ROW_LOCAL
    assert reg["clean"].execution_shape({"drop_duplicates": True}) is Shape.GLOBAL


def test_node_spec_reads_only_columns_an_aggregate_uses() -> None:
    compute = builtin_registry()["compute"]
    params = {
        "filter": "qty > 0",
        "columns": {"rev": "qty * price"},
        "aggregate": {
            "by": ["region"],
            "values": {"n": "count()", "r": "sum(rev)", "c": "nunique(customer)"},
        },
    }
    assert compute.reads(params) == ["qty", "price", "region", "customer"]
    assert compute.reads({"filter": "qty > 0"}) is None


def test_node_spec_declaration_errors_caught_early() -> None:
    common = {"type": "x", "family": "f", "title": "X", "doc": "d", "schema": lambda ctx: None}
    with pytest.raises(ValueError, match="no migration from params version 1"):
        NodeSpec(shape=Shape.ROW_LOCAL, version=2, **common)
    with pytest.raises(ValueError, match="cannot have inputs"):
        NodeSpec(shape=Shape.SOURCE, **common)
    with pytest.raises(ValueError, match="declares a param twice"):
        NodeSpec(shape=Shape.ROW_LOCAL, params=(Param("a", int, "a"), Param("a", int, "a")), **common)


def test_registry_duplicate_type_refused_and_legacy_name_found() -> None:
    reg = builtin_registry()
    with pytest.raises(ValueError, match="already registered"):
        reg.register(reg["clean"])
    spec = NodeSpec(
        type="new.name",
        family="f",
        title="T",
        doc="d",
        shape=Shape.ROW_LOCAL,
        schema=lambda ctx: ctx.input(),
        legacy_types=("old.name",),
    )
    reg.register(spec)
    assert reg.find("old.name") is reg["new.name"]
    assert "old.name" in reg


def _runtime_spec() -> NodeSpec:
    return NodeSpec(
        type="geo.distance",
        family="plugins",
        title="Distance",
        doc="Great-circle distance between two lat/lon pairs.",
        shape=Shape.ROW_LOCAL,
        schema=lambda ctx: ctx.input().with_column(ctx.params["output"], "float64") if ctx.input() else None,
        inputs=(Port("in"),),
        params=(Param("output", str, "Name of the new column.", default="km"),),
    )


def test_runtime_registered_plugin_shown_by_nodes_command(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    reg = builtin_registry()
    reg.register(_runtime_spec(), plugin="geo-nodes")
    assert main(["nodes", "--json"], registry=reg) == 0
    listed = {s["type"]: s for s in json.loads(capsys.readouterr().out)}
    assert listed["geo.distance"]["plugin"] == "geo-nodes"
    assert listed["geo.distance"]["params"][0]["default"] == "km"
    assert main(["nodes", "geo.distance"], registry=reg) == 0
    out = capsys.readouterr().out
    assert "geo.distance" in out and "Great-circle distance" in out and "plugin geo-nodes" in out


def test_runtime_plugin_schema_used_by_validation() -> None:
    from engine.validate import validate

    reg = builtin_registry()
    reg.register(_runtime_spec())
    text = """{"format": "graphmill/1", "nodes": [
        {"id": "g", "type": "source.generate", "params": {"rows": 5}},
        {"id": "d", "type": "geo.distance", "params": {"output": "dist"}},
        {"id": "c", "type": "compute", "params": {"filter": "dist > disst"}}],
      "edges": [{"from": "g.out", "to": "d.in"}, {"from": "d.out", "to": "c.in"}]}"""
    issues = validate(loads(text), reg, ".")
    assert [(i.node, i.param) for i in issues] == [("c", "filter")]
    assert "unknown column 'disst' (did you mean 'dist'?)" in issues[0].message


def _make_dist(
    site: Path, name: str, module: str, code: str, entry: str, group: str = "graphmill.nodes"
) -> None:
    (site / f"{module}.py").write_text(textwrap.dedent(code))
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")


PLUGIN_CODE = """
from engine.registry import NodeSpec, Param, Shape

SPECS = [NodeSpec(type="demo.double", family="plugins", title="Double", doc="Doubles a column.",
                  shape=Shape.ROW_LOCAL, schema=lambda ctx: ctx.input(),
                  params=(Param("column", str, "The column."),))]
"""


def test_installed_plugin_discovered_and_broken_one_reported_once(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _make_dist(site, "demo-nodes", "demo_nodes", PLUGIN_CODE, "demo = demo_nodes:SPECS")
    _make_dist(
        site,
        "broken-nodes",
        "broken_nodes",
        "raise ImportError('needs shapely')\n",
        "broken = broken_nodes:SPECS",
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "engine", "nodes", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed = {s["type"]: s for s in json.loads(result.stdout)}
    assert listed["demo.double"]["plugin"] == "demo-nodes"
    assert "clean" in listed
    warnings = [line for line in result.stderr.splitlines() if "broken-nodes" in line]
    assert len(warnings) == 1
    assert "needs shapely" in warnings[0] and "Traceback" not in result.stderr


def test_load_plugins_failure_recorded_with_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _make_dist(site, "bad-plugin", "bad_plugin", "SPECS = [42]\n", "bad = bad_plugin:SPECS")
    monkeypatch.syspath_prepend(str(site))
    reg = Registry()
    failures = reg.load_plugins()
    assert [(f.plugin, f.entry_point) for f in failures] == [("bad-plugin", "bad = bad_plugin:SPECS")]
    assert "expected NodeSpec objects, got int" in str(failures[0])
    assert len(reg) == 0


def test_issue_format_one_line_with_file_line_node_param() -> None:
    issue = Issue("unknown column 'x'", node="n", param="filter", line=12)
    assert (
        issue.format("p.graphmill.json")
        == "p.graphmill.json:12: error: node 'n', param 'filter': unknown column 'x'"
    )
