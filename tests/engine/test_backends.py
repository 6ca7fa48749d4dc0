"""Backends: `auto` runs stages that release the GIL on threads and the others in processes."""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from engine.backends import Auto, make_backend
from engine.events import Event, PartitionDone, StageStarted
from engine.execute import plan_project, run
from engine.projectfile import loads
from engine.registry import NodeSpec, Param, Shape, builtin_registry
from engine.steps import BuildContext, Map, Step


def slugs(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Python per row (holds the GIL), as a plugin's node might be written."""
    out = frame.copy()
    out[f"{column}_slug"] = [str(v).strip().lower().replace(" ", "-") for v in frame[column]]
    return out


def _build(params: dict[str, Any], ctx: BuildContext) -> list[Step]:
    return [Map(partial(slugs, column=params["column"]), "slug", gil=True)]


SLUG = NodeSpec(
    type="text.slug",
    family="plugins",
    title="Slug",
    doc="A URL slug of a text column.",
    shape=Shape.ROW_LOCAL,
    schema=lambda ctx: None,
    build=_build,
    params=(Param("column", str, "The text column."),),
)


def test_auto_is_threads_with_processes_on_demand() -> None:
    backend = make_backend("auto", 2)
    try:
        assert isinstance(backend, Auto)
        assert backend.choose(False) is backend.threads
        assert backend.choose(True).name == "processes"
    finally:
        backend.close()
    assert make_backend("auto", 1).name == "sequential"


def test_auto_sends_only_the_gil_bound_stage_to_processes(tmp_path: Path) -> None:
    registry = builtin_registry()
    registry.register(SLUG, plugin="slugs")
    nodes = [
        {"id": "gen", "type": "source.generate", "params": {"rows": 250_000}},
        {"id": "tidy", "type": "clean", "params": {"drop_duplicates": True}},
        {"id": "slug", "type": "text.slug", "params": {"column": "customer"}},
        {"id": "out", "type": "sink.parquet", "params": {"path": "o.parquet"}},
    ]
    edges = [("gen.out", "tidy.in"), ("tidy.out", "slug.in"), ("slug.out", "out.in")]
    text = json.dumps(
        {"format": "graphmill/1", "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in edges]}
    )
    project = loads(text, registry)
    plan = plan_project(project, registry, tmp_path)
    gil_stages = {s.id for s in plan.stages if s.gil}
    assert gil_stages and all("slug" in s.nodes for s in plan.stages if s.gil)
    events: list[Event] = []
    backend = make_backend("auto", 2)
    try:
        run(project, registry, tmp_path, backend, events.append)
    finally:
        backend.close()
    workers: dict[str, set[str]] = {}
    for e in events:
        if isinstance(e, PartitionDone):
            workers.setdefault(e.stage, set()).add(e.worker)
    here = f"pid:{os.getpid()}"
    assert {e.stage for e in events if isinstance(e, StageStarted)} == set(workers)
    for stage, pids in workers.items():
        assert (here not in pids) if stage in gil_stages else (pids == {here}), (stage, pids)
    table = pd.read_parquet(tmp_path / "o.parquet")
    expected = table["customer"].astype(object).map(lambda v: str(v).strip().lower().replace(" ", "-"))
    assert table["customer_slug"].tolist() == expected.tolist()
