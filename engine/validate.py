"""Everything that can be checked before reading data; every issue names the node and param."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from .errors import Issue
from .graph import find_cycle
from .models import Edge, Project, Resources
from .projectfile import resolve_path
from .registry import NodeSpec, Registry
from .schema import Inference, infer_schemas, suggest


def validate(project: Project, registry: Registry, base_dir: str | Path) -> list[Issue]:
    """Every problem found in `project`, errors and warnings, in file order."""
    return check(project, registry, base_dir)[0]


def check(project: Project, registry: Registry, base_dir: str | Path) -> tuple[list[Issue], Inference]:
    """Issues and the inferred schemas (the designer uses both)."""
    issues = check_structure(project)
    issues += _check_resources(None, project.resources, base_dir)
    unusable: set[str] = set()
    for node in project.nodes:
        spec = registry.find(node.type)
        if spec is None:
            issues.append(_unknown_type(node.id, node.type, node.plugin, registry))
            unusable.add(node.id)
            continue
        node_issues = spec.check_params(node.id, node.params)
        if node.version > spec.version:
            node_issues.append(
                Issue(
                    f"params version {node.version} is newer than the installed '{spec.type}' ({spec.version}): please upgrade",
                    node=node.id,
                )
            )
        if node_issues:
            unusable.add(node.id)
        issues += node_issues
        issues += _check_resources(node.id, node.resources, base_dir)
    issues += _check_ports(project, registry)
    inference = infer_schemas(project, registry, base_dir, skip=unusable)
    issues += inference.issues
    order = {n.id: i for i, n in enumerate(project.nodes)}
    issues.sort(key=lambda i: -1 if i.node is None else order.get(i.node, len(order)))
    return issues, inference


def check_structure(project: Project) -> list[Issue]:
    """Graph checks that need no registry: ids, edge ends, one edge per input, cycles."""
    issues: list[Issue] = []
    ids = [n.id for n in project.nodes]
    for node_id, count in Counter(ids).items():
        if count > 1:
            issues.append(
                Issue(f"the id '{node_id}' is used by {count} nodes; ids must be unique", node=node_id)
            )
    known = set(ids)
    into: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for i, edge in enumerate(project.edges):
        label = _edge_label(i, edge)
        for end in (edge.source, edge.target):
            if end.node not in known:
                issues.append(Issue(f"{label}: there is no node '{end.node}'{suggest(end.node, known)}"))
        into[(edge.target.node, edge.target.port)].append(edge)
    for (node_id, port), edges in into.items():
        if len(edges) > 1 and node_id in known:
            sources = ", ".join(str(e.source) for e in edges)
            issues.append(
                Issue(
                    f"input '{port}' has {len(edges)} edges (from {sources}); an input takes exactly one",
                    node=node_id,
                )
            )
    cycle = find_cycle(project)
    if cycle:
        path = " -> ".join([*cycle, cycle[0]])
        issues.append(Issue(f"the graph has a cycle: {path}", node=cycle[0]))
    return issues


def _check_ports(project: Project, registry: Registry) -> list[Issue]:
    issues: list[Issue] = []
    specs: dict[str, NodeSpec | None] = {n.id: registry.find(n.type) for n in project.nodes}
    connected = {(e.target.node, e.target.port) for e in project.edges}
    for i, edge in enumerate(project.edges):
        label = _edge_label(i, edge)
        src, dst = specs.get(edge.source.node), specs.get(edge.target.node)
        if src is not None and src.output(edge.source.port) is None:
            outs = ", ".join(p.name for p in src.outputs) or "none"
            issues.append(
                Issue(
                    f"{label}: '{edge.source.node}' ({src.type}) has no output port '{edge.source.port}' (outputs: {outs})",
                    node=edge.source.node,
                )
            )
        if dst is not None and dst.input(edge.target.port) is None:
            ins = ", ".join(p.name for p in dst.inputs) or "none"
            issues.append(
                Issue(
                    f"{label}: '{edge.target.node}' ({dst.type}) has no input port '{edge.target.port}' (inputs: {ins})",
                    node=edge.target.node,
                )
            )
    for node in project.nodes:
        spec = specs[node.id]
        for port in spec.inputs if spec else ():
            if port.required and (node.id, port.name) not in connected:
                issues.append(Issue(f"input '{port.name}' is not connected", node=node.id))
    return issues


def _check_resources(node_id: str | None, resources: Resources | None, base_dir: str | Path) -> list[Issue]:
    if resources is None:
        return []
    issues = []
    if resources.backend == "dask" and not resources.scheduler:
        msg = "backend 'dask' needs a scheduler address (tcp://host:port) or 'local'"
        issues.append(Issue(msg, node=node_id, param="resources.scheduler"))
    if resources.security is not None:  # the paths are never printed: the param names the file
        for key in ("ca", "cert", "key"):
            if not resolve_path(Path(base_dir), getattr(resources.security, key)).is_file():
                msg = "no such file (a relative path is taken from the project's folder)"
                issues.append(Issue(msg, node=node_id, param=f"resources.security.{key}"))
    return issues


def _unknown_type(node_id: str, type_name: str, plugin: str | None, registry: Registry) -> Issue:
    if plugin:
        msg = f"node type '{type_name}' is not installed: it comes from the plugin '{plugin}' (pip install {plugin})"
    else:
        msg = f"unknown node type '{type_name}'{suggest(type_name, [s.type for s in registry])}"
    return Issue(msg, node=node_id, param="type")


def _edge_label(index: int, edge: Edge) -> str:
    return f"edge #{index + 1} ({edge.source} -> {edge.target})"
