"""The Document: files, ids, connection rules, clipboard, placeholders for missing types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.document import Document
from engine.models import Edge
from engine.projectfile import dumps
from engine.registry import NodeSpec, Param, Shape

from .conftest import EXAMPLES, PROJECTS

HAND_WRITTEN = {
    "format": "graphmill/1",
    "name": "by hand",
    "nodes": [
        {"id": "a", "type": "source.generate", "params": {"rows": 10}},
        {"id": "b", "type": "clean", "params": {}},
        {"id": "c", "type": "sink.csv", "params": {"path": "out.csv"}},
    ],
    "edges": [{"from": "a.out", "to": "b.in"}, {"from": "b.out", "to": "c.in"}],
}


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.graphmill.json")))
def test_open_then_save_example_is_byte_identical(doc, examples, tmp_path, name):
    doc.open(examples / name)
    assert not doc.modified
    out = doc.save(tmp_path / "copy.graphmill.json")
    assert out.read_bytes() == (examples / name).read_bytes()
    assert not doc.modified and doc.path == out


def test_open_hand_written_without_ui_is_laid_out_and_not_modified(doc, tmp_path):
    path = tmp_path / "hand.graphmill.json"
    path.write_text(json.dumps(HAND_WRITTEN))  # one line: not the canonical layout
    doc.open(path)
    assert not doc.modified
    xs = [doc.position(n)[0] for n in ("a", "b", "c")]
    assert xs[0] < xs[1] < xs[2]
    doc.save()
    assert path.read_text() == json.dumps(HAND_WRITTEN), "unchanged file: written back as it was"


def test_open_missing_plugin_keeps_placeholder_and_round_trips(doc, project_copy):
    path = project_copy("missing-plugin")
    original = path.read_bytes()
    doc.open(path)
    assert doc.spec("stats") is None
    [missing] = doc.missing_types()
    assert (missing.type, missing.plugin, missing.nodes) == ("geo.distance", "graphmill-geo", ("stats",))
    assert "graphmill-geo" in doc.run_blocked_reason()
    assert len(doc.project.edges) == 3
    doc.save()
    assert path.read_bytes() == original
    doc.set_param("orders", "rows", 5)
    doc.set_param("orders", "rows", 1000)
    doc.save()
    saved = json.loads(path.read_text())
    assert saved["nodes"][2] == {
        "id": "stats",
        "type": "geo.distance",
        "plugin": "graphmill-geo",
        "params": {},
    }
    assert len(saved["edges"]) == 3


def test_can_connect_reasons(doc):
    doc.add_node("source.generate", node_id="src")
    doc.add_node("clean", node_id="a")
    doc.add_node("clean", node_id="b")
    doc.add_node("merge", node_id="m")
    assert doc.can_connect("src.out", "a.in") is None
    assert "output to an input" in doc.can_connect("a.in", "b.in")
    assert "no input 'left'" in doc.can_connect("src.out", "a.left")
    assert "feed itself" in doc.can_connect("a.out", "a.in")
    doc.connect("src.out", "a.in")
    doc.connect("a.out", "b.in")
    assert "already has an edge" in doc.can_connect("src.out", "a.in")
    assert doc.can_connect("src.out", "a.in", replacing=[Edge.of("src.out", "a.in")]) is None
    assert "cycle: a -> b -> a" in doc.can_connect("b.out", "a.in", replacing=[Edge.of("src.out", "a.in")])
    assert doc.can_connect("b.out", "m.right") is None
    with pytest.raises(ValueError, match="already has an edge"):
        doc.connect("b.out", "a.in")


def test_add_node_ids_are_unique_and_valid(doc):
    ids = [doc.add_node("source.csv") for _ in range(3)]
    assert ids == ["source_csv_1", "source_csv_2", "source_csv_3"]
    doc.remove_nodes(["source_csv_2"])
    assert doc.add_node("source.csv") == "source_csv_2"
    with pytest.raises(ValueError, match="taken"):
        doc.add_node("clean", node_id="source_csv_1")
    with pytest.raises(KeyError):
        doc.add_node("no.such.type")


def test_paste_gives_fresh_ids_and_keeps_internal_edges(doc, orders):
    doc.open(orders)
    ids = doc.paste(doc.copy(["tidy", "split", "out"]), offset=(0, 300))
    assert ids == ["clean_1", "partition_1", "sink_csv_1"]
    new_edges = [str(e.source) + ">" + str(e.target) for e in doc.project.edges[4:]]
    assert new_edges == ["clean_1.out>partition_1.in"]
    assert doc.position("clean_1") == (250, 300)
    assert doc.node("clean_1").params == doc.node("tidy").params
    with pytest.raises(ValueError, match="cannot paste"):
        doc.paste("not json")


def test_modified_follows_undo_stack_and_save(doc, tmp_path, qtbot):
    assert not doc.modified
    with qtbot.waitSignal(doc.modified_changed) as sig:
        doc.add_node("clean")
    assert sig.args == [True] and doc.modified
    doc.undo_stack.undo()
    assert not doc.modified
    doc.undo_stack.redo()
    doc.save(tmp_path / "p.graphmill.json")
    assert not doc.modified
    with pytest.raises(ValueError, match="no file"):
        Document(doc.registry).save()


def test_set_param_same_value_pushes_nothing(doc):
    nid = doc.add_node("partition", params={"by": "rows"})
    doc.set_param(nid, "by", "rows")
    doc.set_param(nid, "partitions", None)
    assert doc.undo_stack.count() == 1


def test_new_resets_project_and_stack(doc, orders, qtbot):
    doc.open(orders)
    doc.add_node("clean")
    with qtbot.waitSignal(doc.reset):
        doc.new()
    assert doc.project.nodes == [] and doc.path is None and not doc.modified
    assert doc.undo_stack.count() == 0


def test_register_node_type_at_run_time_emits_and_adds(doc, qtbot):
    spec = NodeSpec(
        type="demo.scale",
        family="plugins",
        title="Scale",
        doc="Multiplies a column.",
        shape=Shape.ROW_LOCAL,
        schema=lambda ctx: ctx.input(),
        params=(Param("factor", float, "How much.", default=1.0),),
    )
    with qtbot.waitSignal(doc.registry_changed):
        doc.register_node_type(spec, plugin="graphmill-demo")
    nid = doc.add_node("demo.scale")
    assert doc.node(nid).plugin == "graphmill-demo"


def test_input_schema_offers_columns_of_upstream(doc, orders):
    doc.open(orders)
    schema = doc.input_schema("tidy")
    assert schema is not None and "region" in schema.names
    assert doc.input_schema("orders") is None
    assert "revenue" in doc.input_schema("out").names


def test_title_falls_back_to_file_name(doc, tmp_path):
    doc.set_name("")
    assert doc.title == "Untitled"
    doc.save(tmp_path / "sales.graphmill.json")
    assert doc.title == "sales"


def test_open_invalid_file_raises_project_error(doc):
    from engine.errors import ProjectError

    with pytest.raises(ProjectError):
        doc.open(PROJECTS / "invalid-json.json")
    with pytest.raises(ProjectError):
        doc.open(Path("/nonexistent/x.graphmill.json"))


def test_load_text_modified_counts_as_unsaved(doc, orders):
    doc.load_text(orders.read_text(), orders, modified=True)
    assert doc.modified and doc.path == orders
    assert dumps(doc.project) == orders.read_text()
