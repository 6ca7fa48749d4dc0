"""`graphmill validate` as a user runs it: a subprocess, exit codes, one line per problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bad_projects import BAD_PROJECTS, Bad

ROOT = Path(__file__).parents[2]
PROJECTS = ROOT / "tests" / "projects"


def graphmill(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


@pytest.mark.parametrize("bad", BAD_PROJECTS, ids=lambda b: b.name)
def test_graphmill_validate_bad_project_exit_2_with_message(bad: Bad) -> None:
    path = PROJECTS / f"{bad.name}.json"
    result = graphmill("validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if bad.fragment in line]
    assert lines, result.stdout
    where = ", ".join(
        ([f"node '{bad.node}'"] if bad.node else []) + ([f"param '{bad.param}'"] if bad.param else [])
    )
    assert lines[0].startswith(f"{path}:") or lines[0].startswith(f"{path}: ")
    assert f"error: {where}: " in lines[0] if where else "error: " in lines[0]


def test_graphmill_validate_missing_file_exit_2(tmp_path: Path) -> None:
    result = graphmill("validate", str(tmp_path / "none.graphmill.json"))
    assert result.returncode == 2
    assert "no such project file" in result.stdout and "Traceback" not in result.stderr


def test_graphmill_bad_command_line_exit_2() -> None:
    result = graphmill("validate")
    assert result.returncode == 2
    assert "the following arguments are required: project" in result.stderr


def test_import_engine_and_validate_load_no_qt() -> None:
    code = (
        "import sys, engine, engine.cli\n"
        f"code = engine.cli.main(['validate', {str(ROOT / 'resources/examples/orders.graphmill.json')!r}])\n"
        "engine.cli.main(['nodes'])\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in {'PySide6', 'Qt', 'NodeGraphQt', 'pyqtgraph', 'shiboken6'})\n"
        "assert code == 0, code\n"
        "assert not qt, qt\n"
        "print('clean')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("clean")
