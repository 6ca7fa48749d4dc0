"""The example plugin as a user installs it: pip-installed into a separate environment, then
`graphmill nodes`, `run` and `run --explain` in subprocesses of that environment.

This is the one place tests load installed entry points (STYLE.md, plugin isolation). The test's
own environment never gets the plugin: a fresh venv without pip sees this environment's packages
(Graphmill, pandas, pip) through a .pth file, and pip installs the plugin there with --no-deps,
building it with hatchling in an isolated build, as `tests/e2e/test_wheel.py` builds Graphmill.
A second plugin that fails on import is installed beside it: every command must still work and
name it once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.registry import ENTRY_POINT_GROUP
from tests import references

ROOT = Path(__file__).parents[2]
GEO_SOURCE = ROOT / "resources" / "plugins" / "graphmill-geo"
BROKEN_WARNING = "plugin 'graphmill-broken'"

BROKEN_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "graphmill-broken"
version = "0.1"

[project.entry-points."graphmill.nodes"]
broken = "graphmill_broken:SPECS"

[tool.hatch.build.targets.wheel]
only-include = ["graphmill_broken.py"]
"""


@pytest.fixture(scope="session")
def plugin_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a new venv with graphmill-geo and graphmill-broken installed."""
    root = tmp_path_factory.mktemp("plugin-env")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]  # addsitedir also runs its .pth files (editable Graphmill)
    (Path(site) / "_graphmill_test_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    geo = root / "graphmill-geo"  # a copy: a build never leaves files in resources/ (the wheel ships it)
    shutil.copytree(GEO_SOURCE, geo, ignore=shutil.ignore_patterns("__pycache__"))
    broken = root / "graphmill-broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "graphmill_broken.py").write_text("raise ImportError('needs the shapely library')\n")
    result = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", geo, broken],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return python


def graphmill(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "engine", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def _assert_broken_named_once(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if BROKEN_WARNING in line]
    assert len(lines) == 1, stderr
    assert "needs the shapely library" in lines[0] and "Traceback" not in stderr


def _points(path: Path, rows: int = 500, seed: int = 3) -> pd.DataFrame:
    """Random coordinates (integer degrees in one column, some missing) written as CSV."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "lat": rng.uniform(-89, 89, rows).round(6),
            "lon": rng.integers(-180, 181, rows),
            "dest_lat": rng.uniform(-89, 89, rows).round(6),
            "dest_lon": rng.uniform(-180, 180, rows).round(6),
        }
    )
    frame.loc[rng.choice(rows, rows // 8, replace=False), "dest_lat"] = np.nan
    frame.to_csv(path, index=False)
    return pd.read_csv(path)


def _project(folder: Path, geo: dict[str, object], chunk_rows: int = 64) -> Path:
    """source.csv -> compute (filter) -> the geo node -> compute (a column from it) -> sink.csv."""
    project = {
        "format": "graphmill/1",
        "name": "distances",
        "nodes": [
            {
                "id": "points",
                "type": "source.csv",
                "params": {"path": "points.csv", "chunk_rows": chunk_rows},
            },
            {"id": "north", "type": "compute", "params": {"filter": "lat > -60"}},
            {"id": "dist", **geo},
            {"id": "miles", "type": "compute", "params": {"columns": {"twice": "distance * 2"}}},
            {"id": "out", "type": "sink.csv", "params": {"path": "out/distances.csv"}},
        ],
        "edges": [
            {"from": "points.out", "to": "north.in"},
            {"from": "north.out", "to": "dist.in"},
            {"from": "dist.out", "to": "miles.in"},
            {"from": "miles.out", "to": "out.in"},
        ],
    }
    path = folder / "distances.graphmill.json"
    path.write_text(json.dumps(project, indent=2))
    return path


GEO_V2 = {
    "type": "geo.distance",
    "plugin": "graphmill-geo",
    "version": 2,
    "params": {"from_lat": "lat", "from_lon": "lon", "to_lat": "dest_lat", "to_lon": "dest_lon"},
}
# what graphmill-geo 1.x saved: the legacy type name, params version 1 and its param names
GEO_V1 = {
    "type": "geo.haversine",
    "plugin": "graphmill-geo",
    "params": {"lat1": "lat", "lon1": "lon", "lat2": "dest_lat", "lon2": "dest_lon", "column": "distance"},
}


def _expected(points: pd.DataFrame) -> pd.DataFrame:
    kept = points[points["lat"] > -60].reset_index(drop=True)
    distance = references.haversine_km(kept, "lat", "lon", "dest_lat", "dest_lon")
    return kept.assign(distance=distance, twice=distance * 2)


def test_plugin_nodes_lists_geo_distance_with_plugin_name(plugin_python: Path) -> None:
    result = graphmill(plugin_python, "nodes", "--json")
    assert result.returncode == 0, result.stderr
    listed = {s["type"]: s for s in json.loads(result.stdout)}
    geo = listed["geo.distance"]
    assert (geo["plugin"], geo["version"], geo["shape"]) == ("graphmill-geo", 2, "row_local")
    assert geo["legacy_types"] == ["geo.haversine"]
    assert {p["name"]: p["editor"] for p in geo["params"]}["from_lat"] == "column"
    assert "clean" in listed and "compute" in listed
    _assert_broken_named_once(result.stderr)
    text = graphmill(plugin_python, "nodes", "geo.distance")
    assert text.returncode == 0 and "plugin graphmill-geo" in text.stdout


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_plugin_run_matches_pandas_haversine(plugin_python: Path, tmp_path: Path, backend: str) -> None:
    points = _points(tmp_path / "points.csv")
    project = _project(tmp_path, GEO_V2)
    result = graphmill(plugin_python, "run", "--backend", backend, "--workers", "2", str(project))
    assert result.returncode == 0, result.stderr
    _assert_broken_named_once(result.stderr)
    out = pd.read_csv(tmp_path / "out" / "distances.csv")
    expected = _expected(points)
    pd.testing.assert_frame_equal(out, expected, check_exact=False, rtol=1e-9, atol=1e-6)
    assert out["distance"].isna().sum() == expected["distance"].isna().sum() > 0


def test_plugin_explain_json_fuses_geo_distance_with_neighbours(plugin_python: Path, tmp_path: Path) -> None:
    _points(tmp_path / "points.csv", rows=50)
    project = _project(tmp_path, GEO_V2)
    result = graphmill(plugin_python, "run", "--explain", "--json", str(project))
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    stages = [op for op in plan["ops"] if op["op"] == "stage" and "dist" in op["nodes"]]
    assert len(stages) == 1, plan
    steps = [(s["node"], s["step"]) for s in stages[0]["steps"]]
    assert ("dist", "haversine") in steps
    assert {"north", "dist", "miles"} <= set(stages[0]["nodes"])
    at = steps.index(("dist", "haversine"))
    assert steps[at - 1][0] == "north" and steps[at + 1][0] == "miles"


def test_plugin_old_params_version_migrated_on_run(plugin_python: Path, tmp_path: Path) -> None:
    points = _points(tmp_path / "points.csv", rows=80)
    project = _project(tmp_path, GEO_V1)
    assert graphmill(plugin_python, "validate", str(project)).returncode == 0
    result = graphmill(plugin_python, "run", str(project))
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(tmp_path / "out" / "distances.csv")
    pd.testing.assert_frame_equal(out, _expected(points), check_exact=False, rtol=1e-9, atol=1e-6)


def test_plugin_not_installed_run_exit_2_names_it(tmp_path: Path) -> None:
    """In the test's own environment, which never has graphmill-geo."""
    _points(tmp_path / "points.csv", rows=5)
    project = _project(tmp_path, GEO_V2)
    for command in (["run"], ["run", "--explain", "--json"], ["validate"]):
        result = graphmill(Path(sys.executable), *command, str(project))
        assert result.returncode == 2, result.stderr
        said = result.stdout + result.stderr
        assert "node 'dist', param 'type'" in said or '"node": "dist"' in said
        assert "it comes from the plugin 'graphmill-geo' (pip install graphmill-geo)" in said
        assert "Traceback" not in said
    assert not (tmp_path / "out").exists()


def test_plugin_entry_point_in_the_group_the_registry_loads() -> None:
    meta = tomllib.loads((GEO_SOURCE / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"][ENTRY_POINT_GROUP] == {"geo": "graphmill_geo:SPECS"}
