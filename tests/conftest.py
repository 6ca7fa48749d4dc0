"""Shared fixtures; hypothesis profiles: `dev` (more examples) locally, `ci` under CI=true."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# pydantic before PySide6: once pytest-qt has imported PySide6, shiboken's import hook makes
# pydantic's lazy submodule imports fail (a circular ImportError) in the app tests.
import engine.models  # noqa: F401

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "dev", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

# Runs that spill held frames (engine.spill) do it here, not in the user's cache; the tests
# check that every run removes its folder.
os.environ.setdefault("GRAPHMILL_SPILL_DIR", tempfile.mkdtemp(prefix="graphmill-test-spill-"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    shutil.rmtree(os.environ["GRAPHMILL_SPILL_DIR"], ignore_errors=True)


# Qt (later GUI tests) runs offscreen; set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_PREFERRED_BINDING", "PySide6")

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).resolve().parent / "projects"
EXAMPLES = ROOT / "resources" / "examples"


@pytest.fixture
def projects_path() -> Path:
    return PROJECTS


@pytest.fixture
def registry():
    from engine.registry import builtin_registry

    return builtin_registry()


@pytest.fixture
def project_copy(tmp_path: Path):
    """Copy a bad-project scenario (and its data) into tmp_path; returns the copy's path."""

    def copy(name: str) -> Path:
        shutil.copytree(PROJECTS, tmp_path / "projects")
        return tmp_path / "projects" / f"{name}.json"

    return copy
