"""Where and on what a benchmark's figures were taken: shared by the scripts in tests/bench."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(root: Path, dists: Iterable[str], dirty_path: str | None = None) -> str:
    """Date, cores, memory, versions of `dists`, and the commit of `root` (with a note when
    `dirty_path` in it has uncommitted changes), as Markdown list lines."""
    import psutil

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    git = ["git", "-C", str(root)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    state = ""
    if dirty_path is not None:
        dirty = subprocess.run([*git, "status", "--porcelain", dirty_path], capture_output=True, text=True)
        state = f" ({dirty_path}/ has uncommitted changes)" if dirty.stdout.strip() else ""
    versions = ", ".join(f"{d} {version(d)}" for d in dists)
    return (
        f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}\n"
        f"- machine: {len(os.sched_getaffinity(0))} cores ({model}), "
        f"{psutil.virtual_memory().total / 2**30:.1f} GiB memory, {platform.system()} {platform.release()}\n"
        f"- Python {platform.python_version()}; {versions}\n"
        f"- Graphmill: {root} at commit {commit.stdout.strip() or 'unknown'}{state}\n"
    )
