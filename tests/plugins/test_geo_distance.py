"""The example plugin's `geo.distance` in process: against a plain reference on random data and
random partitionings, its schema checks, and its params migration.

The plugin is imported from resources/ and registered explicitly (tests/geo_plugin.py says why);
the installed plugin is tested end to end in tests/e2e/test_plugin_geo.py.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from engine.backends import Joblib, Sequential
from engine.errors import errors
from engine.projectfile import dumps, loads
from engine.validate import validate
from tests import references
from tests.geo_plugin import GEO_PLUGIN, geo_module, geo_registry
from tests.runner import chain, run_nodes, write_source

GEO_PARAMS = {"from_lat": "lat", "from_lon": "lon", "to_lat": "lat2", "to_lon": "lon2"}

_LAT = st.floats(-90, 90, allow_nan=False) | st.just(np.nan)
_LON = st.floats(-540, 540, allow_nan=False) | st.just(np.nan)  # past ±180 wraps around


def _frames() -> st.SearchStrategy[pd.DataFrame]:
    """Coordinates with missing values; one longitude column holds whole degrees as int64."""
    return data_frames(
        [
            column("lat", elements=_LAT, dtype=float),
            column("lon", elements=st.integers(-180, 180), dtype="int64"),
            column("lat2", elements=_LAT, dtype=float),
            column("lon2", elements=_LON, dtype=float),
            column("tag", elements=st.sampled_from(["a", "b"]), dtype=str),
        ],
        index=range_indexes(min_size=0, max_size=40),
    )


def _run(
    folder: Path, frame: pd.DataFrame, params: dict[str, Any], row_group: int, backend: Any
) -> pd.DataFrame:
    write_source(frame, folder / "in.parquet", row_group)
    src = {"id": "src", "type": "source.parquet", "params": {"path": "in.parquet"}}
    geo = {"id": "geo", "type": "geo.distance", "params": params}
    return run_nodes(folder, [src, geo], chain(src, geo), backend=backend, registry=geo_registry())


@settings(max_examples=40)
@given(
    frame=_frames(),
    row_group=st.integers(1, 41),
    unit=st.sampled_from(["km", "m", "mi"]),
    threads=st.booleans(),
)
def test_geo_distance_random_data_and_partitions_match_reference(
    frame: pd.DataFrame, row_group: int, unit: str, threads: bool
) -> None:
    factor = {"km": 1.0, "m": 1000.0, "mi": 1 / 1.609344}[unit]
    expected = frame.assign(d=references.haversine_km(frame, "lat", "lon", "lat2", "lon2") * factor)
    backend = Joblib("threads", 2) if threads else Sequential()
    try:
        with tempfile.TemporaryDirectory() as folder:
            result = _run(
                Path(folder), frame, {**GEO_PARAMS, "output": "d", "unit": unit}, row_group, backend
            )
    finally:
        backend.close()
    # atol: a few ulps of arcsin near antipodal points are ~1e-8 km; nothing else differs
    pd.testing.assert_frame_equal(
        result, expected.reset_index(drop=True), check_exact=False, rtol=1e-9, atol=1e-6
    )


def test_geo_distance_known_distances(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "lat": [51.5074, 0.0, 10.0],
            "lon": [-0.1278, 0.0, 20.0],
            "lat2": [48.8566, 0.0, 10.0],
            "lon2": [2.3522, 180.0, 20.0],
        }
    )
    result = _run(tmp_path, frame, {**GEO_PARAMS, "output": "lat2"}, 2, Sequential())
    assert list(result.columns) == ["lat", "lon", "lat2", "lon2"], "an existing column is replaced in place"
    london_paris, half_equator, same = result["lat2"]
    assert london_paris == pytest.approx(343.56, abs=0.1)
    assert half_equator == pytest.approx(np.pi * 6371.0088, rel=1e-12)
    assert same == 0.0


POINT = pd.DataFrame({"lat": [1.5], "lon": [2], "lat2": [3.5], "lon2": [4.5], "tag": ["x"]})


def _project(params: dict[str, Any], node: dict[str, Any] | None = None) -> str:
    node = node or {"type": "geo.distance", "version": 2, "params": params}
    return json.dumps(
        {
            "format": "graphmill/1",
            "nodes": [
                {"id": "src", "type": "source.parquet", "params": {"path": "p.parquet"}},
                {"id": "geo", **node},
                {"id": "out", "type": "sink.parquet", "params": {"path": "o.parquet"}},
            ],
            "edges": [{"from": "src.out", "to": "geo.in"}, {"from": "geo.out", "to": "out.in"}],
        }
    )


@pytest.mark.parametrize(
    ("params", "param", "fragment"),
    [
        ({**GEO_PARAMS, "to_lon": "lon_2"}, "to_lon", "unknown column 'lon_2' (did you mean 'lon2'?)"),
        ({**GEO_PARAMS, "from_lat": "tag"}, "from_lat", "'tag' is string: degrees must be numbers"),
        ({**GEO_PARAMS, "unit": "ft"}, "unit", "Input should be 'km', 'm' or 'mi', not 'ft'"),
        ({"from_lat": "lat"}, "from_lon", "is required"),
    ],
)
def test_geo_distance_bad_params_named_before_reading_data(
    tmp_path: Path, params: dict[str, Any], param: str, fragment: str
) -> None:
    write_source(POINT, tmp_path / "p.parquet")
    issues = errors(validate(loads(_project(params), geo_registry()), geo_registry(), tmp_path))
    assert [(i.node, i.param) for i in issues][:1] == [("geo", param)], issues
    assert fragment in issues[0].message


def test_geo_distance_schema_adds_a_float_column(tmp_path: Path) -> None:
    from engine.validate import check

    write_source(POINT, tmp_path / "p.parquet")
    registry = geo_registry()
    issues, inference = check(loads(_project({**GEO_PARAMS, "output": "km"}), registry), registry, tmp_path)
    assert errors(issues) == []
    assert inference.output("geo").as_dict() == {
        "lat": "float64",
        "lon": "int64",
        "lat2": "float64",
        "lon2": "float64",
        "tag": "string",
        "km": "float64",
    }


def test_geo_distance_v1_params_and_legacy_type_migrated_on_load() -> None:
    v1 = {
        "type": "geo.haversine",
        "plugin": GEO_PLUGIN,
        "params": {"lat1": "lat", "lon1": "lon", "lat2": "lat2", "lon2": "lon2", "column": "km"},
    }
    project = loads(_project({}, v1), geo_registry())
    node = project.node("geo")
    assert (node.type, node.version, node.plugin) == ("geo.distance", 2, GEO_PLUGIN)
    assert node.params == {**GEO_PARAMS, "output": "km"}
    saved = json.loads(dumps(project))["nodes"][1]
    assert (saved["type"], saved["version"]) == ("geo.distance", 2)


def test_geo_distance_build_runs_numpy_once_per_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Python per row: the kernel gets whole columns once (and no step holds the GIL)."""
    distance = geo_module().distance
    spec = geo_registry()["geo.distance"]
    (step,) = spec.build(spec.with_defaults(GEO_PARAMS), None)
    assert step.name == "haversine" and step.gil is False
    calls: list[int] = []

    def counting(*arrays: np.ndarray) -> np.ndarray:
        calls.append(len(arrays[0]))
        return haversine(*arrays)

    haversine = distance.haversine
    monkeypatch.setattr(distance, "haversine", counting)
    frame = pd.DataFrame({c: np.zeros(1000) for c in ("lat", "lon", "lat2", "lon2")})
    out = step.fn(frame)
    assert calls == [1000] and out["distance"].eq(0.0).all()
