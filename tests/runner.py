"""Test helpers: run a small project over frames written to Parquet, read the sink back."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pandas as pd

from engine.backends import Backend, Sequential
from engine.errors import errors
from engine.execute import run
from engine.projectfile import loads
from engine.registry import Registry, builtin_registry
from engine.validate import validate


def write_source(frame: pd.DataFrame, path: Path, row_group_size: int | None = None) -> None:
    """A Parquet file whose row groups become the source's partitions."""
    frame.reset_index(drop=True).to_parquet(
        path, index=False, row_group_size=row_group_size or max(len(frame), 1)
    )


def run_nodes(
    tmp_path: Path,
    nodes: list[dict[str, Any]],
    edges: list[tuple[str, str]],
    backend: Backend | None = None,
    sink: str = "out",
    devices: dict[str, Any] | None = None,
    registry: Registry | None = None,
) -> pd.DataFrame:
    """Run nodes (plus a sink.parquet named `sink` fed by the last node); return its table.

    `registry` defaults to the built-in types; plugin tests pass one with their specs added."""
    last = nodes[-1]["id"]
    target = tmp_path / f"{sink}.parquet"
    project = {
        "format": "graphmill/1",
        "nodes": [*nodes, {"id": sink, "type": "sink.parquet", "params": {"path": target.name}}],
        "edges": [{"from": a, "to": b} for a, b in edges] + [{"from": f"{last}.out", "to": f"{sink}.in"}],
    }
    registry = registry or builtin_registry()
    loaded = loads(json.dumps(project), registry)
    problems = errors(validate(loaded, registry, tmp_path))
    assert not problems, problems
    run(loaded, registry, tmp_path, backend or Sequential(), devices=devices)
    return pd.read_parquet(target)


def chain(*nodes: dict[str, Any]) -> list[tuple[str, str]]:
    """Edges `a.out -> b.in` along a list of single-input nodes."""
    return [(f"{a['id']}.out", f"{b['id']}.in") for a, b in itertools.pairwise(nodes)]
