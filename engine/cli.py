"""`graphmill`: the command line, a thin client of the engine's public API.

User mistakes print one clear line each and exit 2 (1 for failures while running); a traceback is
shown only with `--debug`. Other subcommands plug in through the entry-point group
`graphmill.commands` (the designer registers `gui` there), so the engine never imports the GUI.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .errors import GraphmillError, ProjectError, Terminated, UsageError, errors
from .registry import Registry, default_registry, installed_entry_points

COMMANDS_GROUP = "graphmill.commands"
DEFAULT_COMMAND = "gui"  # bare `graphmill` opens the designer when a plugin provides it


class _Context:
    """What a command needs besides its arguments; the registry is made once, on demand."""

    def __init__(self, registry: Registry | None) -> None:
        self._registry = registry

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = default_registry()
            for failure in self._registry.failures:
                print(f"warning: {failure}", file=sys.stderr)
        return self._registry


def main(argv: Sequence[str] | None = None, *, registry: Registry | None = None) -> int:
    """Run the CLI; returns the exit code. `registry` replaces the installed node types (tests)."""
    given = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(plugins=False)
    if not _builtin_command(given, _command_names(parser)):
        _plugin_commands(parser)
    args = parser.parse_args(given)
    if args.command is None:
        if given or DEFAULT_COMMAND not in _command_names(parser):
            parser.print_help()
            return 0
        args = parser.parse_args([DEFAULT_COMMAND])
    try:
        return int(args.func(args, _Context(registry)) or 0)
    except GraphmillError as exc:
        if args.debug:
            raise
        print(f"error: {exc}" if not isinstance(exc, ProjectError) else str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"error: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


def _builtin_command(argv: Sequence[str], builtin: set[str]) -> bool:
    """Whether argv names a built-in command and asks for no help: then the command plugins,
    whose discovery reads every installed distribution's metadata, need not be loaded."""
    words = [a for a in argv if not a.startswith("-")]
    return bool(words) and words[0] in builtin and not {"-h", "--help"} & set(argv)


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphmill",
        description="Design, validate and run partitioned data workflows.",
    )
    parser.add_argument("--version", action="version", version=f"graphmill {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.set_defaults(command=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("validate", help="check a project without reading data (exit 0 ok, 2 problems)")
    p.add_argument("project", type=Path, help="a *.graphmill.json file")
    p.add_argument(
        "--base-dir", type=Path, help="resolve relative paths here (default: the project's folder)"
    )
    p.add_argument("--json", action="store_true", help="print the problems as JSON")
    p.set_defaults(command="validate", func=_validate)

    p = sub.add_parser("run", help="run a project (exit 0 done, 1 failed, 2 cannot run as written)")
    p.add_argument("project", type=Path, help="a *.graphmill.json file")
    _add_run_options(p)
    _add_events_option(p)
    p.add_argument(
        "--explain", action="store_true", help="print the plan (stages, fused nodes, exchanges) and stop"
    )
    p.add_argument("--json", action="store_true", help="with --explain: the plan as JSON")
    p.add_argument(
        "--preview-dir",
        type=Path,
        metavar="DIR",
        help="write the first 1000 rows of every node's output to DIR as Parquet, with manifest.json",
    )
    p.set_defaults(command="run", func=_run)

    p = sub.add_parser("demo", help="copy the bundled orders example into DIR and run it")
    p.add_argument(
        "dir", type=Path, nargs="?", default=Path("graphmill-demo"), help="default: ./graphmill-demo"
    )
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.add_argument("--no-run", action="store_true", help="only copy it, and print the project's path")
    p.set_defaults(command="demo", func=_demo)

    p = sub.add_parser("nodes", help="list the node types, their ports and params")
    p.add_argument("types", nargs="*", metavar="TYPE", help="only these node types")
    p.add_argument("--json", action="store_true", help="print the node specs as JSON")
    p.set_defaults(command="nodes", func=_nodes)

    p = sub.add_parser("schema", help="print the JSON Schema of the project format")
    p.set_defaults(command="schema", func=_schema)

    p = sub.add_parser(
        "resources", help="cores, memory and GPUs this process may use, or a Dask cluster's workers"
    )
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.add_argument("--scheduler", metavar="ADDR", help="a Dask scheduler (tcp://host:port, tls://host:port)")
    for name, what in (("ca", "CA certificate"), ("cert", "client certificate"), ("key", "client key")):
        p.add_argument(f"--tls-{name}", metavar="FILE", help=f"the {what}, for a tls:// scheduler")
    p.set_defaults(command="resources", func=_resources)

    if plugins:
        _plugin_commands(parser)
    return parser


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    return set(_subcommands(parser).choices)


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1 or 'auto', not {text!r}")
    return value


def _memory(text: str) -> str:
    from .models import parse_size

    if text != "auto":
        try:
            parse_size(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _add_run_options(p: argparse.ArgumentParser) -> None:
    from .backends import BACKENDS

    p.add_argument(
        "--backend", choices=BACKENDS, help="where partitions run (default: the project's, else auto)"
    )
    p.add_argument("--workers", type=_workers, help="worker count or 'auto' (all usable cores)")
    p.add_argument("--device", choices=("cpu", "gpu", "auto"), help="where numeric kernels run")
    p.add_argument("--scheduler", help="Dask scheduler address, or 'local'")
    p.add_argument(
        "--memory",
        type=_memory,
        metavar="SIZE",
        help="held data beyond this size (512MB, 2GB) waits on disk; default: auto (64MB)",
    )
    p.add_argument(
        "--base-dir", type=Path, help="resolve relative paths here (default: the project's folder)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NODE.PARAM=VALUE",
        help="override a param; VALUE is JSON when it parses, else text",
    )
    p.add_argument("--quiet", action="store_true", help="print only errors")


def _add_events_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--events",
        choices=("jsonl",),
        help="write run events to stdout, one JSON object a line (progress and logs stay on stderr)",
    )


def _plugin_commands(parser: argparse.ArgumentParser) -> None:
    """Let installed distributions add subcommands: an entry point is `register(subparsers)`."""
    sub = _subcommands(parser)
    for ep in installed_entry_points(COMMANDS_GROUP):
        try:
            register: Callable[[Any], None] = ep.load()
            register(sub)
        except Exception as exc:
            print(f"warning: command plugin '{ep.name}' ({ep.value}) failed to load: {exc}", file=sys.stderr)


def _validate(args: argparse.Namespace, ctx: _Context) -> int:
    from .projectfile import load, with_lines
    from .validate import validate

    source = str(args.project)
    try:
        project = load(args.project, ctx.registry)
    except ProjectError as exc:
        _print_issues(exc.issues, source, args.json)
        return 2
    base_dir = args.base_dir or args.project.resolve().parent
    issues = with_lines(validate(project, ctx.registry, base_dir), args.project.read_text(encoding="utf-8"))
    _print_issues(issues, source, args.json)
    if not args.json and not issues:
        print(f"ok: {source}: {len(project.nodes)} nodes, {len(project.edges)} edges", file=sys.stderr)
    return 2 if errors(issues) else 0


def _run(args: argparse.Namespace, ctx: _Context) -> int:
    with _stop_signals():
        try:
            from .run import RunOptions

            options = RunOptions(
                args.backend,
                args.workers,
                args.device,
                args.scheduler,
                args.base_dir,
                args.overrides,
                preview_dir=args.preview_dir,
                memory=args.memory,
            )
            if args.explain:
                return _explain(args.project, ctx, options, args.json)
            if args.json:
                raise UsageError("--json goes with --explain (for run events, use --events jsonl)")
            return _run_project(args.project, ctx, options, args.quiet, args.events)
        except (KeyboardInterrupt, Terminated) as exc:
            stopped = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
            print(f"{stopped}: no output was written", file=sys.stderr)
            return 130 if isinstance(exc, KeyboardInterrupt) else 143


@contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt and SIGTERM Terminated in the main thread, so a stopped
    run removes its temporary files on the way out. Installed before the engine's imports (half
    a second of pandas and pyarrow) and over an ignored SIGINT (a background job of a
    non-interactive shell starts with it ignored, and Python leaves it so): a run must stop
    when asked. Only the interpreter's and this module's start-up (about 0.2 s) come before."""
    import signal

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _explain(path: Path, ctx: _Context, options: Any, as_json: bool) -> int:
    """The plan `run` would execute, without reading data; exit 2 if it cannot run as written."""
    from .run import explain_file

    try:
        plan = explain_file(path, ctx.registry, options)
    except ProjectError as exc:  # as JSON on stdout, like `validate --json`; else on stderr
        _print_issues(exc.issues, str(path), as_json, None if as_json else sys.stderr)
        return 2
    print(json.dumps(plan.as_dict(), indent=2) if as_json else plan.explain())
    return 0


def _run_project(path: Path, ctx: _Context, options: Any, quiet: bool, events: str | None = None) -> int:
    """Run with terminal progress on stderr (and `--events jsonl` on stdout); the exit code."""
    from ._progress import TerminalProgress
    from .events import JsonLines
    from .run import run_file

    progress = TerminalProgress(quiet)
    handlers: list[Any] = [progress] + ([JsonLines(sys.stdout)] if events == "jsonl" else [])
    try:
        result = run_file(path, ctx.registry, options, handlers)
    except ProjectError as exc:
        progress.close()
        _print_issues(exc.issues, str(path), False, sys.stderr)
        return 2
    finally:
        progress.close()
    if not quiet:
        for output in result.outputs:
            print(f"wrote {output}", file=sys.stderr)
        spilled = f", {result.spilled / 2**20:,.0f} MB of held data waited on disk" if result.spilled else ""
        print(f"done in {result.seconds:.2f} s{spilled}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace, ctx: _Context) -> int:
    import shutil

    from .bundled import example
    from .run import RunOptions

    source = example("orders")
    args.dir.mkdir(parents=True, exist_ok=True)
    target = args.dir / source.name
    if target.exists():
        print(f"using the existing {target}", file=sys.stderr)
    else:
        shutil.copyfile(source, target)
    if args.no_run:
        print(target)
        return 0
    code = _run_project(target, ctx, RunOptions(), args.quiet)
    if code == 0:
        print(f"demo project: {target}")
        for out in sorted((args.dir / "out").glob("*")):
            print(f"output: {out}")
    return code


def _print_issues(issues: Sequence[Any], source: str, as_json: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        payload = {"project": source, "ok": not errors(issues), "issues": [i.to_json() for i in issues]}
        print(json.dumps(payload, indent=2), file=out)
        return
    for issue in issues:
        print(issue.format(source), file=out)
    if issues:
        n_err = len(errors(issues))
        print(f"{n_err} error(s), {len(issues) - n_err} warning(s) in {source}", file=sys.stderr)


def _nodes(args: argparse.Namespace, ctx: _Context) -> int:
    registry = ctx.registry
    unknown = [t for t in args.types if t not in registry]
    if unknown:
        raise UsageError(f"unknown node type '{unknown[0]}' (see `graphmill nodes`)")
    specs = [registry[t] for t in args.types] if args.types else list(registry)
    if args.json:
        print(json.dumps([s.to_json() for s in specs], indent=2))
        return 0
    from ._clitext import print_specs

    print_specs(specs)
    return 0


def _schema(args: argparse.Namespace, ctx: _Context) -> int:
    from .jsonschema import project_schema

    print(json.dumps(project_schema(ctx.registry), indent=2))
    return 0


def _resources(args: argparse.Namespace, ctx: _Context) -> int:
    import dataclasses

    if args.scheduler:
        return _cluster_resources(args)
    from .machine import describe, machine

    found = machine()
    print(json.dumps(dataclasses.asdict(found), indent=2) if args.json else "\n".join(describe(found)))
    return 0


def _cluster_resources(args: argparse.Namespace) -> int:
    import dataclasses

    from .backends import BackendUnavailable
    from .cluster import describe_cluster, scheduler_resources

    files = {k: getattr(args, f"tls_{k}") for k in ("ca", "cert", "key")}
    if any(files.values()) and not all(files.values()):
        raise UsageError("--tls-ca, --tls-cert and --tls-key go together")
    try:
        cluster = scheduler_resources(args.scheduler, files if all(files.values()) else None)
    except BackendUnavailable as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        extra = {"threads": cluster.threads, "memory_limit": cluster.memory_limit}
        print(json.dumps({**dataclasses.asdict(cluster), **extra}, indent=2))
    else:
        print("\n".join(describe_cluster(cluster)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
