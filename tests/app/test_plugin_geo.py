"""The designer with the example plugin: its node in the palette with typed editors, `plugin` and
`version` written when it is added, older params migrated on open, and a missing plugin named.

The plugin is registered explicitly from resources/ (tests/geo_plugin.py), as its entry point
would register it: unit tests never load installed entry points.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.editors import ChoiceEditor, ColumnEditor, TextEditor
from app.main import MainWindow
from engine.errors import errors
from engine.projectfile import load
from engine.validate import validate
from tests.geo_plugin import GEO_PLUGIN, geo_registry

COORDS = ("from_lat", "from_lon", "to_lat", "to_lon")


@pytest.fixture
def geo_window(qtbot, tmp_path: Path):
    """The main window over a registry with graphmill-geo; closed without a prompt."""
    w = MainWindow(geo_registry(), recovery_dir=tmp_path / "recovery")
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


def _points_project(folder: Path, geo: dict | None = None) -> Path:
    """A parquet source of coordinates (its columns are known without a run), and a sink."""
    pd.DataFrame({"lat": [51.5], "lon": [-0.13], "lat2": [48.86], "lon2": [2.35]}).to_parquet(
        folder / "points.parquet", index=False
    )
    nodes = [{"id": "src", "type": "source.parquet", "params": {"path": "points.parquet"}}]
    edges = []
    if geo is not None:
        nodes.append({"id": "dist", **geo})
        edges.append({"from": "src.out", "to": "dist.in"})
    path = folder / "points.graphmill.json"
    path.write_text(json.dumps({"format": "graphmill/1", "name": "points", "nodes": nodes, "edges": edges}))
    return path


def test_palette_plugin_node_added_with_plugin_version_and_typed_editors(geo_window, qtbot, tmp_path):
    w = geo_window
    assert w.open_path(_points_project(tmp_path), ask=False)
    assert "geo.distance" in w.palette.types()["plugins"]
    assert f"from plugin '{GEO_PLUGIN}'" in w.palette.item("geo.distance").toolTip(0)
    w.palette.activated.emit("geo.distance")  # what double-click or Enter on the item emits
    (nid,) = [n.id for n in w.document.project.nodes if n.type == "geo.distance"]
    node = w.document.node(nid)
    assert (node.plugin, node.version) == (GEO_PLUGIN, 2)
    w.document.connect("src.out", f"{nid}.in")
    w.properties.show_node(nid)
    QApplication.processEvents()
    editors = w.properties.editors
    assert all(isinstance(editors[name], ColumnEditor) for name in COORDS)
    assert isinstance(editors["unit"], ChoiceEditor) and isinstance(editors["output"], TextEditor)
    combo = editors["from_lat"].combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["lat", "lon", "lat2", "lon2"]
    for name, column in zip(COORDS, ("lat", "lon", "lat2", "lon2"), strict=True):
        editor = editors[name]
        editor.combo.setCurrentIndex(editor.combo.findText(column))
        editor.combo.activated.emit(editor.combo.currentIndex())
    unit = editors["unit"].combo
    unit.setCurrentIndex(unit.findData("mi"))
    unit.activated.emit(unit.currentIndex())
    assert w.document.node(nid).params == {
        "from_lat": "lat",
        "from_lon": "lon",
        "to_lat": "lat2",
        "to_lon": "lon2",
        "unit": "mi",
    }
    w.document.save()
    saved = {n["id"]: n for n in json.loads(w.document.path.read_text())["nodes"]}
    assert (saved[nid]["plugin"], saved[nid]["version"]) == (GEO_PLUGIN, 2)
    project = load(w.document.path, geo_registry())
    assert errors(validate(project, geo_registry(), tmp_path)) == []


def test_open_older_params_version_migrated_and_saved_migrated(doc, tmp_path):
    v1 = {
        "type": "geo.haversine",
        "plugin": GEO_PLUGIN,
        "params": {"lat1": "lat", "lon1": "lon", "lat2": "lat2", "lon2": "lon2", "column": "km"},
    }
    path = _points_project(tmp_path, v1)
    for spec in geo_registry():
        if spec.plugin:
            doc.register_node_type(spec, plugin=spec.plugin)
    doc.open(path)
    node = doc.node("dist")
    assert (node.type, node.version, node.plugin) == ("geo.distance", 2, GEO_PLUGIN)
    assert node.params == {
        "from_lat": "lat",
        "from_lon": "lon",
        "to_lat": "lat2",
        "to_lon": "lon2",
        "output": "km",
    }
    assert doc.spec("dist") is not None and doc.missing_types() == [] and not doc.modified
    assert doc.inference().output("dist").dtype("km") == "float64"
    doc.save()
    saved = json.loads(path.read_text())["nodes"][1]
    assert saved == {
        "id": "dist",
        "type": "geo.distance",
        "version": 2,
        "plugin": GEO_PLUGIN,
        "params": node.params,
    }


def test_missing_plugin_named_on_open_and_run_refused(window, project_copy, monkeypatch):
    warned: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: warned.append(text))
    )
    assert window.open_path(project_copy("missing-plugin"), ask=False)
    said = window.statusBar().currentMessage()
    assert "geo.distance" in said and "plugin 'graphmill-geo' (pip install graphmill-geo)" in said
    window.run_control.start()
    assert len(warned) == 1 and "pip install graphmill-geo" in warned[0]
    assert not window.run_control.runner.running
