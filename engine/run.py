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

from .errors import DataError, Issue, ProjectError, Terminated, errors
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
    )


def check_resources(project: Project, resources: Resources) -> None:
    """Refuse, before reading data, what this machine or this version cannot do."""
    issues: list[Issue] = []
    wanted = [resources] + [n.resources for n in project.nodes if n.resources is not None]
    if resources.backend == "dask" and not resources.scheduler:
        msg = "backend 'dask' needs a scheduler address (tcp://host:port) or 'local' (--scheduler)"
        issues.append(Issue(msg, param="resources.scheduler"))
    for node in project.nodes:  # one backend runs the whole project: say so, never ignore it
        for key in ("backend", "workers", "scheduler"):
            value = getattr(node.resources, key, None)
            if value is not None and value != getattr(resources, key):
                msg = (
                    f"a node-level {key} ({value!r}) differs from the run's "
                    f"({getattr(resources, key)!r}): one backend runs the whole project in this "
                    "version; set it in the project's resources"
                )
                issues.append(Issue(msg, node=node.id, param=f"resources.{key}"))
    if any(r.device == "gpu" for r in wanted) and not gpu_available():
        issues.append(
            Issue(
                "device 'gpu' was asked for, but this machine has no usable GPU (CuPy with a CUDA device)",
                param="resources.device",
            )
        )
    if issues:
        raise ProjectError(issues)


def gpu_available() -> bool:
    try:
        import cupy  # type: ignore[import-not-found]

        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception:
        return False


def check_outputs(project: Project, registry: Registry, base_dir: Path) -> None:
    """A sink with overwrite=false whose file exists fails before any data is read."""
    from .execute import build_steps
    from .steps import Write

    issues = []
    for node_id, steps in build_steps(project, registry, base_dir).items():
        for step in steps:
            if isinstance(step, Write) and not step.overwrite and step.target.exists():
                issues.append(
                    Issue(f"{step.target} exists and overwrite is false", node=node_id, param="path")
                )
    if issues:
        raise ProjectError(issues)


def prepare(
    path: Path, registry: Registry, options: RunOptions
) -> tuple[Project, Path, Resources, list[Issue]]:
    """Everything before reading data; returns the project, base dir, resources and warnings."""
    project = load(path, registry)
    project = apply_overrides(project, options.overrides)
    base_dir = (options.base_dir or path.resolve().parent).resolve()
    from .validate import validate

    issues = with_lines(validate(project, registry, base_dir), path.read_text(encoding="utf-8"))
    if errors(issues):
        raise ProjectError(issues, str(path))
    resources = effective_resources(project, options)
    check_resources(project, resources)
    check_outputs(project, registry, base_dir)
    return project, base_dir, resources, issues


def explain_file(path: Path, registry: Registry, options: RunOptions) -> Any:
    """The plan (engine.plan.Plan) a run of the file would execute; reads no data."""
    from .execute import plan_project

    project, base_dir, _, _ = prepare(path, registry, options)
    return plan_project(project, registry, base_dir)


def run_file(path: Path, registry: Registry, options: RunOptions, handlers: Sequence[Handler] = ()) -> Any:
    """Run a project file, reporting to `handlers` (engine.events); returns the RunResult.

    Raises what went wrong after reporting it: ProjectError (exit 2), DataError and other
    GraphmillErrors (exit 1), KeyboardInterrupt (130) or Terminated (143).
    """
    from .execute import run
    from .metrics import MetricsSampler

    emit = Emitter(list(handlers))
    try:
        project, base_dir, resources, warnings = prepare(path, registry, options)
        backend = _start_backend(resources)
    except ProjectError as exc:
        for issue in exc.issues:
            emit(ErrorRaised(message=issue.format(str(path)), node=issue.node))
        emit(RunFinished(status="failed", exit_code=2, seconds=0.0))
        raise
    for issue in warnings:
        emit(WarningIssued(message=issue.format(str(path)), node=issue.node))
    emit(
        RunStarted(
            project=str(path),
            nodes=[n.id for n in project.nodes],
            backend=backend.name,
            workers=backend.workers,
            pid=os.getpid(),
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
        result = run(project, registry, base_dir, backend, emit, rows, previews)
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
            )
        )
    return result


def _start_backend(resources: Resources) -> Any:
    """The run's backend; one that cannot start (a Dask scheduler that does not answer) is a
    project error, found before any data is read."""
    from .backends import BackendUnavailable, make_backend

    try:
        return make_backend(resources.backend or "auto", resources.workers, resources.scheduler)
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
