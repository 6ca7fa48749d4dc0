"""The planner: per-partition work of several nodes fused into one stage, barriers where needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.execute import plan_project
from engine.plan import Combine, Plan, Stage, Whole
from engine.projectfile import load, loads
from engine.registry import builtin_registry

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "resources" / "examples"


def _plan(nodes: list[dict[str, Any]], edges: list[tuple[str, str]], base: Path) -> Plan:
    project = {
        "format": "graphmill/1",
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in edges],
    }
    registry = builtin_registry()
    return plan_project(loads(json.dumps(project), registry), registry, base)


def _steps(stage: Stage) -> list[str]:
    return [f"{s['node']}:{s['step']}" for s in stage_dict(stage)["steps"]]


def stage_dict(stage: Stage) -> dict[str, Any]:
    plan = Plan([stage], {}, {}, {})
    return plan.as_dict()["ops"][0]


GEN = {"id": "gen", "type": "source.generate", "params": {"rows": 1000}}
SINK = {"id": "out", "type": "sink.csv", "params": {"path": "o.csv"}}


def test_row_local_chain_is_one_stage_from_read_to_sink(tmp_path: Path) -> None:
    clean = {"id": "c", "type": "clean", "params": {"text": [{"column": "customer", "lower": True}]}}
    comp = {"id": "k", "type": "compute", "params": {"filter": "quantity > 0", "columns": {"r": "price * 2"}}}
    plan = _plan(
        [GEN, clean, comp, SINK], [("gen.out", "c.in"), ("c.out", "k.in"), ("k.out", "out.in")], tmp_path
    )
    assert len(plan.ops) == 1
    (stage,) = plan.stages
    assert stage.nodes == ["gen", "c", "k", "out"]
    assert _steps(stage) == ["gen:read", "c:select", "c:tidy", "k:filter+columns", "out:write"]
    assert stage.frames is None  # streamed to the sink: nothing is held


def test_aggregate_partial_fuses_with_row_local_work_and_holds_no_frames(tmp_path: Path) -> None:
    comp = {
        "id": "k",
        "type": "compute",
        "params": {
            "columns": {"r": "price * 2"},
            "aggregate": {"by": ["region"], "values": {"n": "count()"}},
        },
    }
    plan = _plan([GEN, comp, SINK], [("gen.out", "k.in"), ("k.out", "out.in")], tmp_path)
    first = plan.ops[0]
    assert isinstance(first, Stage)
    assert _steps(first) == ["gen:read", "gen:project", "k:filter+columns", "k:aggregate (partial)"]
    assert first.frames is None and first.partials is not None
    assert isinstance(plan.ops[1], Combine) and plan.ops[1].table


def test_orders_example_stages(tmp_path: Path) -> None:
    registry = builtin_registry()
    plan = plan_project(load(EXAMPLES / "orders.graphmill.json", registry), registry, tmp_path)
    kinds = [type(op).__name__ for op in plan.ops]
    assert kinds.count("Whole") == 1  # the row split is the only exchange
    s1 = plan.stages[0]
    assert _steps(s1) == ["orders:read", "tidy:select", "tidy:tidy", "tidy:dedupe hashes (partial)"]
    compute = next(s for s in plan.stages if "stats" in s.nodes and s.partial is not None)
    assert _steps(compute) == ["stats:filter+columns", "stats:aggregate (partial)"]
    exchange = next(op for op in plan.ops if isinstance(op, Whole))
    assert (exchange.node, exchange.kind) == ("split", "exchange")
    # every node starts and finishes somewhere, in graph order
    assert list(plan.first_op) == ["orders", "tidy", "split", "stats", "out"]
    assert all(plan.first_op[n] <= plan.last_op[n] for n in plan.first_op)


def test_fan_out_is_computed_once_and_held(tmp_path: Path) -> None:
    clean = {"id": "c", "type": "clean", "params": {"text": [{"column": "customer", "lower": True}]}}
    sink2 = {"id": "out2", "type": "sink.csv", "params": {"path": "p.csv"}}
    plan = _plan(
        [GEN, clean, SINK, sink2], [("gen.out", "c.in"), ("c.out", "out.in"), ("c.out", "out2.in")], tmp_path
    )
    held, *writes = plan.stages
    assert _steps(held) == ["gen:read", "c:select", "c:tidy"] and held.frames is not None
    assert [w.source for w in writes] == [held.frames, held.frames]
    assert plan.last_use[held.frames] == len(plan.ops) - 1  # freed after its last reader


def test_unread_output_still_runs(tmp_path: Path) -> None:
    clean = {"id": "c", "type": "clean", "params": {"text": [{"column": "customer", "lower": True}]}}
    plan = _plan([GEN, clean], [("gen.out", "c.in")], tmp_path)
    assert [_steps(s) for s in plan.stages] == [["gen:read", "c:select", "c:tidy"]]


def test_explain_text_names_every_stage_and_barrier(tmp_path: Path) -> None:
    registry = builtin_registry()
    plan = plan_project(load(EXAMPLES / "orders.graphmill.json", registry), registry, tmp_path)
    text = plan.explain()
    assert text.count("\nstage s") == len(plan.stages)
    assert "exchange split:row split" in text and "combine stats:aggregate" in text


def _projection(plan: Plan, node: str) -> set[str] | None:
    for stage in plan.stages:
        for f in stage.fns:
            if (f.node, f.name) == (node, "project"):
                return set(f.fn.keywords["keep"])
    return None


def test_only_the_columns_later_nodes_read_are_kept(tmp_path: Path) -> None:
    clean = {"id": "c", "type": "clean", "params": {"drop_duplicates": True}}
    split = {"id": "p", "type": "partition", "params": {"by": "hash", "key": ["customer"]}}
    comp = {
        "id": "k",
        "type": "compute",
        "params": {
            "filter": "quantity > 0",
            "columns": {"r": "price * 2"},
            "aggregate": {"by": ["region"], "values": {"n": "count()", "r": "sum(r)"}},
        },
    }
    edges = [("gen.out", "c.in"), ("c.out", "p.in"), ("p.out", "k.in"), ("k.out", "out.in")]
    plan = _plan([GEN, clean, split, comp, SINK], edges, tmp_path)
    # dedupe compares whole rows, then only what the aggregate reads (and the hash key) goes on
    assert _projection(plan, "c") == {"quantity", "price", "region", "customer"}
    assert _projection(plan, "p") is None and _projection(plan, "k") is None  # a sink reads all
    assert _projection(plan, "gen") is None  # clean reads every column
    # the projection runs before dedupe's row filter, which then copies 4 columns, not all 8;
    # the rounds before it (hashes, candidates) still see every column
    last = next(s for s in plan.stages if "c:drop_duplicates" in _steps(s))
    assert _steps(last)[:2] == ["c:project", "c:drop_duplicates"]
    assert all("c:project" not in _steps(s) for s in plan.stages if s is not last)


def test_a_reader_of_every_column_keeps_them_all(tmp_path: Path) -> None:
    comp = {"id": "k", "type": "compute", "params": {"aggregate": {"values": {"n": "count()"}}}}
    sink2 = {"id": "raw", "type": "sink.csv", "params": {"path": "raw.csv"}}
    edges = [("gen.out", "k.in"), ("k.out", "out.in"), ("gen.out", "raw.in")]
    plan = _plan([GEN, comp, SINK, sink2], edges, tmp_path)
    assert _projection(plan, "gen") is None
