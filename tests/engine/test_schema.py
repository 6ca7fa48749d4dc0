"""Schema inference: column names and types of every port, without reading data."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.projectfile import loads
from engine.schema import Schema, infer_schemas


def _project(nodes: str, edges: str) -> object:
    return loads(f'{{"format": "graphmill/1", "nodes": [{nodes}], "edges": [{edges}]}}')


def _edge(a: str, b: str) -> str:
    return f'{{"from": "{a}", "to": "{b}"}}'


def test_infer_csv_header_dtypes_and_subset(tmp_path: Path, registry) -> None:
    (tmp_path / "a.csv").write_text('id;"name; full";when;id\n1;x;2024-01-01;2\n')
    project = _project(
        '{"id": "s", "type": "source.csv", "params": {"path": "a.csv", "delimiter": ";", '
        '"columns": ["when", "name; full", "id.1"], "parse_dates": ["when"], "dtypes": {"id.1": "int64"}}}',
        "",
    )
    inference = infer_schemas(project, registry, tmp_path)
    assert inference.issues == []
    assert inference.output("s").as_dict() == {"when": "datetime", "name; full": None, "id.1": "int64"}


def test_infer_parquet_metadata_types(tmp_path: Path, registry) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1], "b": [1.5], "c": ["x"], "d": [True], "e": pd.to_datetime(["2024-01-01"])})
    frame["f"] = frame["c"].astype("category")
    frame.to_parquet(tmp_path / "t.parquet")
    project = _project('{"id": "s", "type": "source.parquet", "params": {"path": "t.parquet"}}', "")
    schema = infer_schemas(project, registry, tmp_path).output("s")
    assert schema.as_dict() == {
        "a": "int64",
        "b": "float64",
        "c": "string",
        "d": "bool",
        "e": "datetime",
        "f": "category",
    }


def test_infer_clean_compute_chain(registry) -> None:
    project = _project(
        '{"id": "g", "type": "source.generate", "params": {"rows": 5}},'
        '{"id": "c", "type": "clean", "params": {"rename": {"price": "p"}, "drop": ["comment"], "cast": {"order_id": "string"}}},'
        '{"id": "k", "type": "compute", "params": {"columns": {"rev": "quantity * p", "p": "p > 1"}}},'
        '{"id": "a", "type": "compute", "params": {"aggregate": {"by": ["region"], "values": {"n": "count()", "s": "sum(rev)", "m": "max(ts)", "u": "nunique(customer)"}}}}',
        ",".join([_edge("g.out", "c.in"), _edge("c.out", "k.in"), _edge("k.out", "a.in")]),
    )
    inference = infer_schemas(project, registry, ".")
    assert inference.issues == []
    assert inference.output("k").as_dict() == {
        "order_id": "string",
        "ts": "datetime",
        "customer": "string",
        "region": "string",
        "quantity": "float64",
        "p": "bool",
        "rev": "float64",
    }
    assert list(inference.output("k").names)[-2:] == ["p", "rev"]
    assert inference.output("a").as_dict() == {
        "region": "string",
        "n": "int64",
        "s": "float64",
        "m": "datetime",
        "u": "int64",
    }


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("concat", {"k": "int64", "a": "float64", "b": "float64", "c": "string"}),
        ("inner", {"k": "int64", "a": "int64", "b": "float64", "b_right": "float64", "c": "string"}),
        ("left", {"k": "int64", "a": "int64", "b": "float64", "b_right": "float64", "c": "string"}),
        ("outer", {"k": "int64", "a": "float64", "b": "float64", "b_right": "float64", "c": "string"}),
    ],
)
def test_infer_merge_columns_and_types(how: str, expected: dict, tmp_path: Path, registry) -> None:
    import pandas as pd

    pd.DataFrame({"k": [1], "a": [1], "b": [1.0]}).to_parquet(tmp_path / "l.parquet")
    pd.DataFrame({"k": [1], "b": [2.0], "c": ["x"]}).to_parquet(tmp_path / "r.parquet")
    on = ', "on": ["k"]' if how != "concat" else ""
    project = _project(
        '{"id": "l", "type": "source.parquet", "params": {"path": "l.parquet"}},'
        '{"id": "r", "type": "source.parquet", "params": {"path": "r.parquet"}},'
        f'{{"id": "m", "type": "merge", "params": {{"how": "{how}"{on}}}}}',
        ",".join([_edge("l.out", "m.left"), _edge("r.out", "m.right")]),
    )
    inference = infer_schemas(project, registry, tmp_path)
    assert inference.issues == []
    assert inference.output("m").as_dict() == expected


def test_infer_unknown_where_source_missing(registry, tmp_path: Path) -> None:
    project = _project(
        '{"id": "s", "type": "source.csv", "params": {"path": "nope.csv"}},'
        '{"id": "k", "type": "compute", "params": {"filter": "anything > 1"}}',
        _edge("s.out", "k.in"),
    )
    inference = infer_schemas(project, registry, tmp_path)
    assert inference.output("s") is None and inference.output("k") is None
    assert [i.severity for i in inference.issues] == ["warning"]


def test_schema_with_column_replaces_in_place_or_appends() -> None:
    schema = Schema.of({"a": "int64", "b": "string"})
    assert schema.with_column("a", "float64").columns == (("a", "float64"), ("b", "string"))
    assert schema.with_column("c", None).names == ["a", "b", "c"]
