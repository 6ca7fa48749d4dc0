"""Running a project file end to end: load, override, validate, choose resources, execute.

`run_file` is what `graphmill run` calls; everything that can be found before reading data is
raised as a ProjectError (exit 2), problems found while running as DataError (exit 1).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DataError, Issue, ProjectError, Terminated, errors, interruption
from .events import Emitter, ErrorRaised, Handler, RunFinished, RunStarted, WarningIssued
from .models import Project, Resources
from .projectfile import load, with_lines
from .registry import Registry


@dataclass(frozen=True)
class RunOptions:
    """Command-line choices; each overrides the project's and the nodes' `resources`."""

    backend: str | None = None
    workers: int | str | None = None
    device: str | None = None
    scheduler: str | None = None
    base_dir: Path | None = None
    overrides: Sequence[str] = ()
    memory: str | None = None  # held frames beyond this size are spilled to disk (engine.spill)
    preview_dir: Path | None = None  # write the first `preview_rows` rows of every node's output here
    preview_rows: int = 1000


def parse_override(text: str) -> tuple[str, str, Any]:
    """`NODE.PARAM=VALUE`: VALUE is JSON when it parses, else a plain string."""
    target, sep, raw = text.partition("=")
    node, dot, param = target.partition(".")
    if not sep or not dot or not node or not param:
        raise ProjectError([Issue(f"--set {text!r} is not of the form NODE.PARAM=VALUE")])
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return node, param, value


def apply_overrides(project: Project, overrides: Sequence[str]) -> Project:
    """Apply `--set`s; a dotted param (`stats.aggregate.by=["region"]`) sets a nested key."""
    nodes = {n.id: n for n in project.nodes}
    for text in overrides:
        node_id, param, value = parse_override(text)
        if node_id not in nodes:
            raise ProjectError([Issue(f"--set {text!r}: there is no node '{node_id}'")])
        node = nodes[node_id]
        params = _set_path(dict(node.params), param.split("."), value, text, node_id)
        nodes[node_id] = node.model_copy(update={"params": params})
    return project.model_copy(update={"nodes": [nodes[n.id] for n in project.nodes]})


def _set_path(params: dict[str, Any], keys: list[str], value: Any, text: str, node: str) -> dict[str, Any]:
    head, rest = keys[0], keys[1:]
    if not rest:
        return {**params, head: value}
    inner = params.get(head) or {}
    if not isinstance(inner, dict):
        raise ProjectError([Issue(f"--set {text!r}: '{head}' is not an object", node=node, param=head)])
    return {**params, head: _set_path(dict(inner), rest, value, text, node)}


def effective_resources(project: Project, options: RunOptions) -> Resources:
    """CLI flags override the project's resources; defaults fill the rest."""
    base = project.resources or Resources()
    return Resources(
        backend=options.backend or base.backend or "auto",
        workers=options.workers or base.workers or "auto",
        device=options.device or base.device or "cpu",
        scheduler=options.scheduler or base.scheduler,
        security=base.security,
        memory=options.memory or base.memory or "auto",
    )


def check_resources(project: Project, resources: Resources) -> None:
    """Refuse, before reading data, what this machine or this version cannot do."""
    issues: list[Issue] = []
    if resources.backend == "dask" and not resources.scheduler:
        msg = "backend 'dask' needs a scheduler address (tcp://host:port) or 'local' (--scheduler)"
        issues.append(Issue(msg, param="resources.scheduler"))
    if (
        resources.backend == "dask"
        and (resources.scheduler or "").startswith("tls://")
        and not resources.security
    ):
        msg = "a tls:// scheduler needs resources.security (ca, cert and key files) in the project"
        issues.append(Issue(msg, param="resources.security"))
    for node in project.nodes:  # one backend runs the whole project: say so, never ignore it
        for key in ("backend", "workers", "scheduler", "security", "memory"):
            value = getattr(node.resources, key, None)
            if value is not None and value != getattr(resources, key):
                shown = "given" if key == "security" else repr(value)
                msg = (
                    f"a node-level {key} ({shown}) differs from the run's "
                    f"({getattr(resources, key)!r}): one backend runs the whole project in this "
                    "version; set it in the project's resources"
                )
                issues.append(Issue(msg, node=node.id, param=f"resources.{key}"))
    if issues:
        raise ProjectError(issues)


def choose_node_devices(project: Project, resources: Resources) -> tuple[dict[str, Any], str]:
    """Each node's array device (engine.device) and the run's summary; a GPU that is not there
    is a project error (exit 2) saying what is missing."""
    from .device import NoGpu, choose_devices

    nodes = {n.id: n.resources.device if n.resources else None for n in project.nodes}
    try:
        return choose_devices(resources.device or "cpu", nodes)
    except NoGpu as exc:
        raise ProjectError([Issue(str(exc), node=exc.node, param="resources.device")]) from exc


def check_outputs(
    project: Project, registry: Registry, base_dir: Path, devices: dict[str, Any] | None = None
) -> None:
    """A sink with overwrite=false whose file exists fails before any data is read."""
    from .execute import build_steps
    from .steps import Write

    issues = []
    for node_id, steps in build_steps(project, registry, base_dir, devices).items():
        for step in steps:
            if isinstance(step, Write) and not step.overwrite and step.target.exists():
                issues.append(
                    Issue(f"{step.target} exists and overwrite is false", node=node_id, param="path")
                )
    if issues:
        raise ProjectError(issues)


@dataclass(frozen=True)
class Prepared:
    """A project checked and ready to run: everything found before reading data."""

    project: Project
    base_dir: Path
    resources: Resources
    warnings: list[Issue]
    devices: dict[str, Any]  # node id -> engine.device.ArrayDevice, or None for the CPU
    device: str  # what the run reports: "cpu", "gpu 0: <name>", ...


def prepare(path: Path, registry: Registry, options: RunOptions) -> Prepared:
    """Load, override, validate and check resources and outputs; raises ProjectError (exit 2)."""
    project = load(path, registry)
    project = apply_overrides(project, options.overrides)
    base_dir = (options.base_dir or path.resolve().parent).resolve()
    from .validate import validate

    issues = with_lines(validate(project, registry, base_dir), path.read_text(encoding="utf-8"))
    if errors(issues):
        raise ProjectError(issues, str(path))
    resources = effective_resources(project, options)
    check_resources(project, resources)
    devices, device = choose_node_devices(project, resources)
    check_outputs(project, registry, base_dir, devices)
    return Prepared(project, base_dir, resources, issues, devices, device)


def explain_file(path: Path, registry: Registry, options: RunOptions) -> Any:
    """The plan (engine.plan.Plan) a run of the file would execute; reads no data."""
    from .execute import plan_project

    ready = prepare(path, registry, options)
    return plan_project(ready.project, registry, ready.base_dir, devices=ready.devices)


def run_file(path: Path, registry: Registry, options: RunOptions, handlers: Sequence[Handler] = ()) -> Any:
    """Run a project file, reporting to `handlers` (engine.events); returns the RunResult.

    Raises what went wrong after reporting it: ProjectError (exit 2), DataError and other
    GraphmillErrors (exit 1), KeyboardInterrupt (130) or Terminated (143).
    """
    from .execute import run
    from .metrics import MetricsSampler

    emit = Emitter(list(handlers))
    try:
        ready = prepare(path, registry, options)
        backend = _start_backend(ready.resources, ready.base_dir)
    except ProjectError as exc:
        for issue in exc.issues:
            emit(ErrorRaised(message=issue.format(str(path)), node=issue.node))
        emit(RunFinished(status="failed", exit_code=2, seconds=0.0))
        raise
    project = ready.project
    for issue in ready.warnings:
        emit(WarningIssued(message=issue.format(str(path)), node=issue.node))
    if getattr(backend, "waiting_for_workers", False):
        msg = f"the Dask scheduler at {ready.resources.scheduler} has no workers yet: the run waits for one"
        emit(WarningIssued(message=msg))
    emit(
        RunStarted(
            project=str(path),
            nodes=[n.id for n in project.nodes],
            backend=backend.name,
            workers=backend.workers,
            pid=os.getpid(),
            device=ready.device,
        )
    )
    rows: dict[str, int] = {}
    previews = None
    if options.preview_dir is not None:
        from .preview import Previews

        previews = Previews(options.preview_rows)
    sampler = MetricsSampler(emit, rows)
    sampler.start()
    status, code = "failed", 1
    try:
        from .spill import budget_bytes

        memory = budget_bytes(ready.resources.memory)
        try:
            result = run(
                project, registry, ready.base_dir, backend, emit, rows, previews, ready.devices, memory
            )
        except Exception as exc:
            stop = interruption(exc)
            if stop is None:
                raise
            raise stop from None
        status, code = "done", 0
        _write_previews(previews, options.preview_dir, "done", emit)
    except DataError as exc:
        emit(ErrorRaised(message=exc.message, node=exc.node, column=exc.column, line=exc.line))
        _write_previews(previews, options.preview_dir, "failed", emit)
        raise
    except (KeyboardInterrupt, Terminated) as exc:
        status, code = "interrupted", 130 if isinstance(exc, KeyboardInterrupt) else 143
        raise
    except Exception as exc:
        emit(ErrorRaised(message=f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        sampler.stop()
        backend.close()
        outputs = [str(p) for p in result.outputs] if code == 0 else []
        emit(
            RunFinished(
                status=status,
                exit_code=code,
                seconds=round(time.perf_counter() - emit.started, 4),
                outputs=outputs,
                spilled_bytes=result.spilled if code == 0 else 0,
            )
        )
    return result


def _start_backend(resources: Resources, base_dir: Path) -> Any:
    """The run's backend; one that cannot start (a Dask scheduler that does not answer) is a
    project error, found before any data is read."""
    from .backends import BackendUnavailable, make_backend
    from .projectfile import resolve_path

    tls = None
    if resources.security is not None:
        sec = resources.security
        tls = {k: str(resolve_path(base_dir, getattr(sec, k))) for k in ("ca", "cert", "key")}
    try:
        return make_backend(resources.backend or "auto", resources.workers, resources.scheduler, tls)
    except BackendUnavailable as exc:
        raise ProjectError([Issue(str(exc), param=exc.param)]) from exc


def _write_previews(previews: Any, directory: Path | None, status: str, emit: Emitter) -> None:
    """Previews are a by-product: failing to write them is a warning, never a failed run."""
    if previews is None or directory is None:
        return
    try:
        previews.write(directory, status)
    except OSError as exc:
        emit(WarningIssued(message=f"cannot write previews to {directory}: {exc.strerror or exc}"))


__all__ = ["RunOptions", "explain_file", "prepare", "run_file"]
