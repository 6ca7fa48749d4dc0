"""How Graphmill starts itself as a child process, from Python and from the desktop bundle.

In the bundle (PyInstaller, `sys.frozen` set) `sys.executable` is the bundle's own `graphmill`,
not a Python interpreter: it takes no `-m module` or `-c code`. So every child that runs
Graphmill code gets its command line here: the designer's run (`graphmill run` behind a launcher
that leads a new session at lower priority), and, in the bundle, the helper processes of loky
(its workers are `-m ...popen_loky_posix`, its resource tracker `-c 'from ... import main;
main(fd, verbose)'`): loky has no frozen support on Linux or macOS (joblib/loky#236, PR #625
still open), so the bundle's entry point asks `bundle_child` what it was started as. The
standard library's helpers (multiprocessing's resource tracker, spawn workers such as Dask's)
are handled by PyInstaller's `multiprocessing.freeze_support()`, which the entry point calls.
Programs that are not Graphmill get `external_env()`, without the bundle's library path.
"""

from __future__ import annotations

import os
import re
import runpy
import sys
from collections.abc import Callable, Sequence
from functools import partial

# Hidden first argument of the bundle's executable: `graphmill --launch-child N EXE ARGS...`.
LAUNCH = "--launch-child"
LOKY_WORKER = "joblib.externals.loky.backend.popen_loky_posix"
_LOKY_TRACKER = re.compile(
    r"from joblib\.externals\.loky\.backend\.resource_tracker import main; main\((\d+), (True|False|0|1)\)"
)
# From Python the launcher is this one line, so it pays for no import beyond `engine.executable`.
_LAUNCH_CODE = "import sys; from engine.executable import launch; launch(sys.argv[1:])"


def is_frozen() -> bool:
    """Whether this process is the desktop bundle's executable."""
    return bool(getattr(sys, "frozen", False))


def engine_program() -> tuple[str, ...]:
    """What follows the executable to mean `graphmill`: nothing in the bundle, else `-m engine`."""
    return () if is_frozen() else ("-m", "engine")


def external_env() -> dict[str, str] | None:
    """The environment for a program outside Graphmill (nvidia-smi): None (inherit) from Python;
    in the bundle, os.environ with the library path the user had, since the bundle's loader
    puts its own libraries first in LD_LIBRARY_PATH (and keeps the user's in *_ORIG)."""
    if not is_frozen():
        return None
    env = dict(os.environ)
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)
    if original:
        env["LD_LIBRARY_PATH"] = original
    else:
        env.pop("LD_LIBRARY_PATH", None)
    return env


def launcher_command(niceness: int, command: Sequence[str], executable: str | None = None) -> list[str]:
    """A child that leads a new session (so a kill of its group reaches its workers) at `niceness`,
    then execs `command` with the same pid (so a QProcess knows the real run). `executable`
    (default `sys.executable`) runs the launcher: a Python, or the bundle's executable."""
    exe = executable or sys.executable
    start = [LAUNCH] if is_frozen() else ["-c", _LAUNCH_CODE]
    return [exe, *start, str(niceness), *command]


def launch(argv: Sequence[str]) -> None:
    """The launcher's body; argv: the niceness, then the program to exec and its arguments."""
    niceness, program, *args = argv
    os.setsid()
    if int(niceness):
        os.nice(int(niceness))
    os.execv(program, [program, *args])


def bundle_child(argv: Sequence[str]) -> Callable[[], object] | None:
    """What the bundle's executable was started as, when not as `graphmill`: the launcher or a
    loky helper process, as a call that does its work; None means the ordinary CLI."""
    if len(argv) > 2 and argv[1] == LAUNCH:
        return partial(launch, list(argv[2:]))
    if len(argv) > 2 and argv[1] == "-m" and argv[2] == LOKY_WORKER:
        return partial(_run_module, LOKY_WORKER, [argv[0], *argv[3:]])
    if "-c" in argv:
        at = list(argv).index("-c")
        flags_only = all(a.startswith("-") for a in argv[1:at])
        match = _LOKY_TRACKER.fullmatch(argv[at + 1]) if flags_only and len(argv) > at + 1 else None
        if match is not None:
            return partial(_loky_tracker, int(match[1]), match[2] in ("True", "1"))
    return None


def _run_module(module: str, argv: list[str]) -> None:
    """`python -m module ARGS` inside the bundle: the module runs as `__main__` with these argv."""
    sys.argv = argv
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _loky_tracker(fd: int, verbose: bool) -> None:
    from joblib.externals.loky.backend.resource_tracker import main

    main(fd, verbose)
