"""The built wheel carries the examples, and `graphmill demo` works from it without writing
into the installation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts}


def _pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--quiet", "--no-deps", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_wheel_demo_runs_from_installed_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _pip("wheel", "-w", str(wheels), str(ROOT))
    (wheel,) = wheels.glob("graphmill-*.whl")
    site = tmp_path / "site"
    _pip("install", "--target", str(site), str(wheel))
    before = _files(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import engine, engine.cli;"
        "assert engine.__file__.startswith(sys.argv[1]), engine.__file__;"
        "sys.exit(engine.cli.main(['demo', sys.argv[2], '--quiet']))"
    )
    demo = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-c", code, str(site), str(demo)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (demo / "out" / "revenue_by_region.csv").exists()
    assert _files(site) == before
