"""Node classes come from the registry's specs; engine ids survive NodeGraphQt's own ids."""

from __future__ import annotations

import pytest
from NodeGraphQt import NodeGraph

from app import convert
from engine.models import Edge, Node
from engine.registry import NodeSpec, Port, Shape


@pytest.fixture
def graph(qapp):
    return NodeGraph()


def test_every_builtin_spec_gets_a_class_with_its_ports(graph, reg):
    for spec in reg:
        ng_type = convert.register_spec(graph, spec)
        assert convert.engine_type(graph, ng_type) == spec.type
        ng = convert.create_node(graph, Node(id="n", type=spec.type), spec, (0, 0), [])
        assert list(ng.inputs()) == [p.name for p in spec.inputs]
        assert list(ng.outputs()) == [p.name for p in spec.outputs]
        assert convert.engine_id(ng) == "n"
        graph.remove_node(ng, push_undo=False)


def test_register_spec_twice_is_harmless(graph, reg):
    assert convert.register_spec(graph, reg["merge"]) == convert.register_spec(graph, reg["merge"])


def test_spec_with_custom_ports_gets_them(graph):
    spec = NodeSpec(
        type="demo.split",
        family="demo",
        title="Split",
        doc="Two outputs.",
        shape=Shape.ROW_LOCAL,
        schema=lambda ctx: None,
        inputs=(Port("data"),),
        outputs=(Port("yes"), Port("no")),
    )
    ng = convert.create_node(graph, Node(id="s", type=spec.type), spec, (5, 6), [])
    assert list(ng.outputs()) == ["yes", "no"] and convert.node_pos(ng) == (5.0, 6.0)


def test_placeholder_takes_ports_from_edges(graph):
    node = Node(id="x", type="geo.distance", plugin="graphmill-geo")
    edges = [Edge.of("a.out", "x.in"), Edge.of("x.out", "b.in"), Edge.of("x.out", "c.in")]
    ng = convert.create_node(graph, node, None, (0, 0), edges)
    assert ng.name() == "x (missing: geo.distance)"
    assert list(ng.inputs()) == ["in"] and list(ng.outputs()) == ["out"]
    assert "graphmill-geo" in ng.view.toolTip()
