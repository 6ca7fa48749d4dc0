"""Pure DAG helpers over a project's nodes and edges (no pandas, no registry)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Node, Project


def successors(project: Project) -> dict[str, list[str]]:
    """Node id -> ids it feeds, in edge order; edges to unknown nodes are ignored."""
    ids = {n.id for n in project.nodes}
    out: dict[str, list[str]] = defaultdict(list)
    for e in project.edges:
        if e.source.node in ids and e.target.node in ids:
            out[e.source.node].append(e.target.node)
    return out


def topological_order(project: Project) -> list[Node] | None:
    """Nodes so that every node comes after its inputs; ties keep file order. None on a cycle."""
    succ = successors(project)
    indegree = {n.id: 0 for n in project.nodes}
    for targets in succ.values():
        for t in targets:
            indegree[t] += 1
    position = {n.id: i for i, n in enumerate(project.nodes)}
    ready = sorted((nid for nid, d in indegree.items() if d == 0), key=position.__getitem__)
    order: list[str] = []
    while ready:
        nid = ready.pop(0)
        order.append(nid)
        for t in succ.get(nid, []):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
                ready.sort(key=position.__getitem__)
    if len(order) != len(project.nodes):
        return None
    by_id = {n.id: n for n in project.nodes}
    return [by_id[nid] for nid in order]


def find_cycle(project: Project) -> list[str] | None:
    """The node ids of one cycle, in edge order starting from its first node in the file."""
    succ = successors(project)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in (n.id for n in project.nodes):
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            nid, i = stack.pop()
            if i == 0:
                state[nid] = 1
                path.append(nid)
            targets = succ.get(nid, [])
            if i < len(targets):
                stack.append((nid, i + 1))
                t = targets[i]
                if state.get(t) == 1:
                    return path[path.index(t) :]
                if not state.get(t):
                    stack.append((t, 0))
            else:
                state[nid] = 2
                path.pop()
    return None


def upstream(project: Project, node_id: str) -> list[str]:
    """Ids of every node `node_id` depends on, nearest first."""
    preds: dict[str, list[str]] = defaultdict(list)
    for e in project.edges:
        preds[e.target.node].append(e.source.node)
    seen: list[str] = []
    frontier = list(preds.get(node_id, []))
    while frontier:
        nid = frontier.pop(0)
        if nid not in seen and nid != node_id:
            seen.append(nid)
            frontier.extend(preds.get(nid, []))
    return seen
