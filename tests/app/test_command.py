"""`graphmill gui` and a bare `graphmill` open the designer; the CLI stays free of Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine import cli


def test_bare_graphmill_and_graphmill_gui_open_the_designer(monkeypatch):
    import app.main

    calls: list[object] = []
    monkeypatch.setattr(app.main, "run", lambda project, registry: calls.append(project) or 0)
    assert cli.main([]) == 0
    assert cli.main(["gui", "x.graphmill.json"]) == 0
    assert calls == [None, Path("x.graphmill.json")]


def test_graphmill_gui_without_a_display_exits_2(monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["gui"]) == 2
    assert "needs a display" in capsys.readouterr().err


def test_loading_the_gui_command_imports_no_qt():
    code = (
        "import sys, engine.cli\n"
        "engine.cli.build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'PySide6', 'NodeGraphQt', 'shiboken6'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
