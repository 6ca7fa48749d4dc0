"""`graphmill gui [PROJECT]`: the designer's subcommand, registered through `graphmill.commands`.

Kept apart from app/main.py and free of Qt imports: the CLI loads every command plugin on each
start, and `graphmill run` or `validate` must not pay for (or depend on) Qt.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Entry point of `graphmill.commands`: adds `graphmill gui [PROJECT]`."""
    p = subparsers.add_parser("gui", help="open the designer (also what a bare `graphmill` does)")
    p.add_argument("project", type=Path, nargs="?", help="a *.graphmill.json file to open")
    # hidden: the desktop bundle's build checks the real window and a run from it (app/selftest.py)
    p.add_argument("--self-test", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    p.set_defaults(command="gui", func=gui_command)


def has_display() -> bool:
    """Whether Qt can open a window here (Linux needs X11 or Wayland, or an explicit platform)."""
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def gui_command(args: argparse.Namespace, ctx: Any) -> int:
    if not has_display():
        print(
            "error: the designer needs a display (DISPLAY or WAYLAND_DISPLAY is not set); "
            "see `graphmill --help` for the headless commands",
            file=sys.stderr,
        )
        return 2
    if args.self_test is not None:
        from .selftest import self_test

        return self_test(args.self_test, ctx.registry)
    from .main import run

    return run(args.project, ctx.registry)
