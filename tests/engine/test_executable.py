"""engine/executable.py: the command lines of Graphmill's child processes, from Python and from
the desktop bundle (`sys.frozen` set, `sys.executable` the bundle's `graphmill`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import executable
from engine.executable import LAUNCH, LOKY_WORKER, bundle_child, engine_program, launcher_command

BUNDLE = "/opt/Graphmill/graphmill"
PYTHON = "/venv/bin/python"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", BUNDLE)


@pytest.fixture
def python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "executable", PYTHON)


def test_engine_program_frozen_is_the_bundle_itself(frozen: None) -> None:
    assert [sys.executable, *engine_program(), "run"] == [BUNDLE, "run"]


def test_engine_program_from_python_is_the_engine_module(python: None) -> None:
    assert [sys.executable, *engine_program(), "run"] == [PYTHON, "-m", "engine", "run"]


def test_launcher_command_frozen_uses_the_hidden_launch_argument(frozen: None) -> None:
    cmd = launcher_command(10, [sys.executable, *engine_program(), "run", "p.json"])
    assert cmd == [BUNDLE, LAUNCH, "10", BUNDLE, "run", "p.json"]
    assert "-c" not in cmd and "-m" not in cmd


def test_launcher_command_from_python_runs_launch_through_dash_c(python: None) -> None:
    cmd = launcher_command(0, [sys.executable, *engine_program(), "run"], "/other/python")
    assert cmd[:2] == ["/other/python", "-c"]
    assert "from engine.executable import launch" in cmd[2]
    assert cmd[3:] == ["0", PYTHON, "-m", "engine", "run"]


def test_bundle_child_launch_argument_returns_the_launcher(frozen: None) -> None:
    child = bundle_child([BUNDLE, LAUNCH, "7", BUNDLE, "run", "p.json"])
    assert child is not None
    assert child.func is executable.launch and child.args == (["7", BUNDLE, "run", "p.json"],)


def test_bundle_child_loky_worker_runs_the_popen_module_with_its_arguments(frozen: None) -> None:
    argv = [BUNDLE, "-m", LOKY_WORKER, "--process-name", "LokyProcess-1", "--pipe", "9"]
    child = bundle_child(argv)
    assert child is not None
    assert child.args == (LOKY_WORKER, [BUNDLE, "--process-name", "LokyProcess-1", "--pipe", "9"])


@pytest.mark.parametrize(("flag", "verbose"), [("False", False), ("True", True), ("0", False)])
def test_bundle_child_loky_tracker_after_interpreter_flags_is_recognised(
    frozen: None, flag: str, verbose: bool
) -> None:
    code = f"from joblib.externals.loky.backend.resource_tracker import main; main(12, {flag})"
    child = bundle_child([BUNDLE, "-B", "-S", "-I", "-c", code])
    assert child is not None and child.args == (12, verbose)


@pytest.mark.parametrize(
    "argv",
    [
        [BUNDLE],
        [BUNDLE, "run", "p.graphmill.json"],
        [BUNDLE, "-m", "engine"],  # only loky's worker module is run as -m
        [BUNDLE, "-c", "import os; os.system('x')"],  # never arbitrary code
        [BUNDLE, "run", "-c", "from joblib.externals.loky.backend.resource_tracker import main; main(1, 0)"],
        [BUNDLE, "-c"],
    ],
)
def test_bundle_child_other_command_lines_are_the_cli(frozen: None, argv: list[str]) -> None:
    assert bundle_child(argv) is None


def test_launch_from_python_leads_a_new_session_at_lower_priority(tmp_path: Path) -> None:
    report = "import os, sys; print(os.getpid(), os.getsid(0), os.nice(0))"
    cmd = launcher_command(3, [sys.executable, "-c", report])
    parent = subprocess.run(
        [sys.executable, "-c", "import os; print(os.nice(0))"], capture_output=True, text=True, check=True
    )
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    pid, sid, nice = map(int, out)
    assert sid == pid, "the child leads its own session (and process group)"
    assert nice == int(parent.stdout) + 3


def test_external_env_from_python_inherits(python: None) -> None:
    assert executable.external_env() is None


@pytest.mark.parametrize(
    ("original", "expected"),
    [("/opt/lib", "/opt/lib"), (None, None)],
)
def test_external_env_frozen_restores_the_users_library_path(
    frozen: None, monkeypatch: pytest.MonkeyPatch, original: str | None, expected: str | None
) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", f"/opt/Graphmill/_internal:{original or ''}")
    if original is None:
        monkeypatch.delenv("LD_LIBRARY_PATH_ORIG", raising=False)
    else:
        monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", original)
    env = executable.external_env()
    assert env is not None and env.get("LD_LIBRARY_PATH") == expected
    assert "LD_LIBRARY_PATH_ORIG" not in env and env["PATH"] == os.environ["PATH"]
