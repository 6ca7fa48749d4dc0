"""Fixtures of the designer tests: a test location for QStandardPaths, documents, projects."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.registry import Registry, builtin_registry

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
PROJECTS = Path(__file__).resolve().parents[1] / "projects"


@pytest.fixture(autouse=True)
def _qt_test_paths(qapp) -> Iterator[None]:
    """Settings, recent files and autosaves go to Qt's test locations, never the user's."""
    from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths

    QCoreApplication.setOrganizationName("GraphmillTests")
    QCoreApplication.setApplicationName("graphmill-tests")
    QStandardPaths.setTestModeEnabled(True)
    yield
    QSettings().clear()


@pytest.fixture
def reg() -> Registry:
    return builtin_registry()


@pytest.fixture
def doc(qapp, reg):
    from app.document import Document

    return Document(reg)


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of the bundled examples (and their data) that tests may save over."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    return tmp_path / "examples"


@pytest.fixture
def orders(examples: Path) -> Path:
    return examples / "orders.graphmill.json"


@pytest.fixture
def window(qtbot, reg, tmp_path):
    """The main window, shown; closed without a prompt at the end."""
    from app.main import MainWindow

    w = MainWindow(reg, recovery_dir=tmp_path / "recovery")
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.document.undo_stack.setClean()  # nothing to ask (a modal prompt would block the run)
    w.close()
    w.deleteLater()
