"""Build Graphmill's desktop bundle with PyInstaller, then check that it works: `make bundle`.

The bundle is one folder, dist/graphmill/, whose executable `graphmill` is the CLI and the
designer. The checks run the built executable as a user would, with a fresh HOME and Qt
offscreen: no broken symbolic link, `--version`, `--help` naming `gui` (the entry point found through the bundled
metadata), `demo` (the bundled example), a headless run on 2 loky process workers and one on a
local Dask cluster (the workers must be other processes of the bundle's executable), the
designer's `gui --self-test` (the real window, and a run from it on 2 process workers),
offscreen and, where xvfb-run is installed, in a real window on an X server (Qt's xcb platform
and its libraries), no process of the bundle left behind, and the desktop integration (the .desktop file validates,
install.sh registers the MIME type and its default application in a scratch XDG_DATA_HOME).

    python packaging/build.py [--skip-build] [--dist DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "graphmill.spec"
LINUX = ROOT / "packaging" / "linux"
MIME_TYPE = "application/x-graphmill+json"
OUTPUT = Path("out") / "revenue_by_region.csv"  # what the orders example writes


class CheckFailed(Exception):
    """A check of the built bundle did not pass; the message says what was seen."""


def build(dist: Path, work: Path) -> float:
    """Run PyInstaller on the spec; returns the wall time in seconds."""
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN"]
    subprocess.run([*cmd, "--distpath", str(dist), "--workpath", str(work), str(SPEC)], check=True, cwd=ROOT)
    return time.perf_counter() - start


def folder_size(folder: Path) -> tuple[int, int]:
    """Bytes and file count of a folder, links not followed (as `du` counts a copy of it)."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), len(files)


def _env(home: Path) -> dict[str, str]:
    """A user with nothing set up: a fresh HOME, Qt offscreen, no Python variables leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "QT_"))}
    runtime = home / "runtime"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        QT_QPA_PLATFORM="offscreen",
        QT_LOGGING_RULES="default.warning=false",
    )
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


def _run(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"no answer within {timeout:g} s: {' '.join(cmd)}") from exc


def _ok(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        raise CheckFailed(
            f"{what}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


def _worker_pids(events: str) -> tuple[int, set[int]]:
    """The run's pid and the pids of the workers that reported partitions, from `--events jsonl`."""
    run_pid, workers = 0, set()
    for line in events.splitlines():
        event = json.loads(line)
        if event.get("event") == "run_started":
            run_pid = int(event["pid"])
        elif event.get("event") == "partition_done" and str(event.get("worker", "")).startswith("pid:"):
            workers.add(int(event["worker"][4:]))
    return run_pid, workers


def checks(exe: Path, tmp: Path) -> list[tuple[str, Callable[[], str]]]:
    """The checks of a built bundle, each a name and a call that returns what it saw."""
    import engine

    env = _env(tmp / "home")
    demo = tmp / "demo"

    def links() -> str:
        broken = [str(p) for p in exe.parent.rglob("*") if p.is_symlink() and not p.exists()]
        if broken:
            raise CheckFailed(f"links to files the spec left out: {broken}")
        return "every symbolic link resolves"

    def version() -> str:
        out = _ok(_run([str(exe), "--version"], env, tmp), "--version").strip()
        if out != f"graphmill {engine.__version__}":
            raise CheckFailed(f"--version says {out!r}")
        return out

    def gui_command() -> str:
        out = _ok(_run([str(exe), "--help"], env, tmp), "--help")
        if "gui" not in out.split():
            raise CheckFailed(f"`gui` is not among the commands (entry point not found):\n{out}")
        return "gui registered through the graphmill.commands entry point"

    def demo_headless() -> str:
        out = _ok(_run([str(exe), "demo", str(demo), "--quiet"], env, tmp), "demo")
        if not (demo / OUTPUT).is_file():
            raise CheckFailed(f"demo wrote no {OUTPUT}:\n{out}")
        return f"{demo / OUTPUT}, {(demo / OUTPUT).stat().st_size} bytes"

    def run_on(backend: str, *extra: str) -> Callable[[], str]:
        def check() -> str:
            (demo / OUTPUT).unlink(missing_ok=True)
            args = ["run", "orders.graphmill.json", "--backend", backend, "--workers", "2", *extra]
            result = _run([str(exe), *args, "--events", "jsonl", "--quiet"], env, demo)
            run_pid, workers = _worker_pids(_ok(result, f"run --backend {backend}"))
            others = sorted(workers - {run_pid})
            if not others or not (demo / OUTPUT).is_file():
                raise CheckFailed(
                    f"run pid {run_pid}, partitions in {sorted(workers)}, output: {(demo / OUTPUT).is_file()}"
                )
            return f"exit 0, run pid {run_pid}, workers {others}"

        return check

    def gui_self_test() -> str:
        result = _run([str(exe), "gui", "--self-test", str(tmp / "gui")], env, tmp)
        lines = [line for line in result.stdout.splitlines() if line.startswith("self-test:")]
        _ok(result, "gui --self-test")
        return "\n      ".join(lines)

    def gui_on_x_server() -> str:
        xvfb_run = shutil.which("xvfb-run")
        if xvfb_run is None:
            return "skipped: no xvfb-run (Debian: xvfb)"
        x_env = {k: v for k, v in env.items() if k != "QT_QPA_PLATFORM"}
        cmd = [
            xvfb_run,
            "-a",
            "-s",
            "-screen 0 1600x1000x24",
            str(exe),
            "gui",
            "--self-test",
            str(tmp / "gui-x"),
        ]
        out = _ok(_run(cmd, x_env, tmp), "gui --self-test under xvfb-run")
        if "'xcb' platform" not in out:
            raise CheckFailed(f"the window did not use Qt's xcb platform:\n{out}")
        return "self-test passed in a real window (xcb) on Xvfb"

    def nothing_left() -> str:
        import psutil

        def left() -> list[psutil.Process]:
            found = []
            for proc in psutil.process_iter(["exe"]):
                if proc.info["exe"] == str(exe):
                    found.append(proc)
            return found

        deadline = time.monotonic() + 10
        while left() and time.monotonic() < deadline:
            time.sleep(0.2)
        if left():
            raise CheckFailed(f"processes of the bundle still running: {[p.cmdline() for p in left()]}")
        return "no process of the bundle is running"

    def desktop_files() -> str:
        seen = []
        validate = shutil.which("desktop-file-validate")
        if validate:
            out = subprocess.run([validate, str(LINUX / "graphmill.desktop")], capture_output=True, text=True)
            if out.returncode != 0 or out.stdout.strip():
                raise CheckFailed(f"desktop-file-validate: {out.stdout}{out.stderr}")
            seen.append("graphmill.desktop validates")
        home = tmp / "install-home"
        install_env = {
            **env,
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "share"),
            "XDG_CONFIG_HOME": str(home / "config"),
        }
        _ok(_run(["bash", str(LINUX / "install.sh"), str(exe.parent)], install_env, tmp), "install.sh")
        desktop = home / "share" / "applications" / "graphmill.desktop"
        if f'Exec="{exe}" gui %f' not in desktop.read_text(encoding="utf-8"):
            raise CheckFailed(f"installed {desktop} does not run {exe}")
        globs = home / "share" / "mime" / "globs2"
        if shutil.which("update-mime-database"):
            if f"{MIME_TYPE}:*.graphmill.json" not in globs.read_text(encoding="utf-8"):
                raise CheckFailed(f"{globs} has no *.graphmill.json")
            seen.append(f"update-mime-database maps *.graphmill.json to {MIME_TYPE}")
        if validate:
            out = subprocess.run([validate, str(desktop)], capture_output=True, text=True)
            if out.returncode != 0 or out.stdout.strip():
                raise CheckFailed(f"installed desktop file: {out.stdout}{out.stderr}")
        if shutil.which("xdg-mime"):
            query = ["xdg-mime", "query", "default", MIME_TYPE]
            default = _run(query, install_env, tmp).stdout.strip()
            if default != "graphmill.desktop":
                raise CheckFailed(f"xdg-mime default for {MIME_TYPE} is {default!r}")
            seen.append("xdg-mime default is graphmill.desktop")
        _ok(
            _run(["bash", str(LINUX / "install.sh"), "--uninstall"], install_env, tmp),
            "install.sh --uninstall",
        )
        if desktop.exists():
            raise CheckFailed("--uninstall left the desktop file")
        return "; ".join([*seen, "install.sh and --uninstall"])

    return [
        ("no broken link in the bundle", links),
        ("graphmill --version", version),
        ("graphmill --help", gui_command),
        ("graphmill demo (headless)", demo_headless),
        ("run on 2 loky process workers", run_on("processes")),
        ("run on a local Dask cluster of 2 workers", run_on("dask", "--scheduler", "local")),
        ("designer: gui --self-test (offscreen)", gui_self_test),
        ("designer: gui --self-test on an X server", gui_on_x_server),
        ("no process left behind", nothing_left),
        ("desktop file and MIME type", desktop_files),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-build", action="store_true", help="only check an existing bundle")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle goes (dist/)")
    parser.add_argument(
        "--work", type=Path, default=ROOT / "build" / "pyinstaller", help="PyInstaller's work folder"
    )
    args = parser.parse_args(argv)

    seconds = None if args.skip_build else build(args.dist, args.work)
    folder = args.dist / "graphmill"
    exe = folder / "graphmill"
    if not exe.is_file():
        print(f"error: no bundle at {folder}", file=sys.stderr)
        return 2
    size, count = folder_size(folder)
    failed = passed = 0
    with tempfile.TemporaryDirectory(prefix="graphmill-bundle-check-") as tmp:
        for name, check in checks(exe, Path(tmp)):
            start = time.perf_counter()
            try:
                seen, ok = check(), True
            except CheckFailed as exc:
                seen, ok = str(exc), False
            passed, failed = passed + ok, failed + (not ok)
            print(
                f"{'ok  ' if ok else 'FAIL'} {name} ({time.perf_counter() - start:.1f} s): {seen}", flush=True
            )
    built = f"built in {seconds:.0f} s, " if seconds is not None else ""
    print(f"bundle: {folder} ({built}{size / 2**20:.0f} MiB in {count} files)")
    print(f"checks: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
