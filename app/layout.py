"""Layered left-to-right layout by graph depth: pure, no Qt, so it is cheap to test and reuse.

Used for projects written by hand (no `ui` positions) and for the Auto Layout action.
"""

from __future__ import annotations

from engine.graph import topological_order
from engine.models import Project

X_STEP = 250  # between layers: a node is ~160 px wide
Y_STEP = 130  # between nodes of one layer: a node is 60-100 px high


def layered_positions(
    project: Project, *, x_step: int = X_STEP, y_step: int = Y_STEP
) -> dict[str, tuple[int, int]]:
    """Top-left position of every node: column = longest path from a source, rows centred.

    Within a column nodes are ordered by the mean row of what feeds them (fewer crossings),
    ties in file order. A graph with a cycle (invalid, but it may be open) falls back to file
    order in one column per node.
    """
    ids = [n.id for n in project.nodes]
    known = set(ids)
    preds: dict[str, list[str]] = {nid: [] for nid in ids}
    for edge in project.edges:
        if edge.source.node in known and edge.target.node in known:
            preds[edge.target.node].append(edge.source.node)
    order = topological_order(project)
    depth: dict[str, int] = {}
    if order is None:
        depth = {nid: i for i, nid in enumerate(ids)}
    else:
        for node in order:
            depth[node.id] = max((depth[p] + 1 for p in preds[node.id]), default=0)
    layers: dict[int, list[str]] = {}
    for nid in ids:
        layers.setdefault(depth[nid], []).append(nid)
    row: dict[str, float] = {}
    positions: dict[str, tuple[int, int]] = {}
    file_pos = {nid: i for i, nid in enumerate(ids)}
    for d in sorted(layers):
        layer = layers[d]

        def key(nid: str) -> tuple[float, int]:
            rows = [row[p] for p in preds[nid] if p in row]
            return (sum(rows) / len(rows) if rows else float(file_pos[nid]), file_pos[nid])

        layer.sort(key=key)
        for i, nid in enumerate(layer):
            row[nid] = i - (len(layer) - 1) / 2
            positions[nid] = (d * x_step, round(row[nid] * y_step))
    return positions
