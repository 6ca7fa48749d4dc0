"""Every node type and param against plain pandas on the whole table, over several partitionings.

The references are pandas code written here; they never import engine code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.runner import chain, run_nodes, write_source

ROW_GROUPS = [None, 4, 1]  # whole table, 4-row partitions, one row per partition


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 23
    df = pd.DataFrame(
        {
            "id": np.arange(n) % 9,
            "qty": rng.integers(-2, 6, n).astype("float64"),
            "price": rng.choice([1.5, 2.25, np.nan, 10.0], n),
            "name": pd.array(rng.choice(["  Ann ", "bob!", "ANN", None, "Bob"], n), dtype="str"),
            "region": pd.array(rng.choice(["n", "s", None], n), dtype="str"),
            "code": pd.array(rng.choice(["1", "2", "30"], n), dtype="str"),
            "flag": rng.choice([True, False], n),
            "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 50, n), unit="D"),
        }
    )
    return pd.concat([df, df.iloc[[2, 5, 5]]], ignore_index=True)  # whole-row duplicates


def _one(tmp_path: Path, frame: pd.DataFrame, node: dict[str, Any], row_group: int | None) -> pd.DataFrame:
    write_source(frame, tmp_path / "in.parquet", row_group)
    src = {"id": "src", "type": "source.parquet", "params": {"path": "in.parquet"}}
    return run_nodes(tmp_path, [src, node], chain(src, node))


def _same(result: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(result, expected.reset_index(drop=True), check_exact=False, rtol=1e-9)


Case = tuple[str, dict[str, Any], Callable[[pd.DataFrame], pd.DataFrame]]


def _text(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["name"] = df["name"].str.lower().str.strip().str.replace(r"[^a-z ]", "", regex=True)
    return df


def _fill(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["price"] = df["price"].fillna(0.5)
    df["name"] = df["name"].fillna("?")
    return df


CLEAN: list[Case] = [
    (
        "rename",
        {"rename": {"qty": "quantity", "name": "who"}},
        lambda df: df.rename(columns={"qty": "quantity", "name": "who"}),
    ),
    ("keep", {"keep": ["price", "id"]}, lambda df: df[["price", "id"]]),
    ("drop", {"drop": ["when", "flag"]}, lambda df: df.drop(columns=["when", "flag"])),
    ("cast-int", {"cast": {"code": "int64"}}, lambda df: df.assign(code=df["code"].astype("int64"))),
    ("cast-float", {"cast": {"id": "float64"}}, lambda df: df.assign(id=df["id"].astype("float64"))),
    ("cast-string", {"cast": {"qty": "string"}}, lambda df: df.assign(qty=df["qty"].astype("str"))),
    ("cast-bool", {"cast": {"id": "bool"}}, lambda df: df.assign(id=df["id"].astype("bool"))),
    ("cast-datetime", {"cast": {"code": "datetime"}}, None),
    (
        "cast-category",
        {"cast": {"region": "category"}},
        lambda df: df.assign(region=df["region"].astype("category")),
    ),
    ("text", {"text": [{"column": "name", "lower": True, "strip": True, "remove": "[^a-z ]"}]}, _text),
    ("fill", {"fill": {"price": 0.5, "name": "?"}}, _fill),
    ("drop-missing-any", {"drop_missing": "any"}, lambda df: df.dropna()),
    ("drop-missing-cols", {"drop_missing": ["price"]}, lambda df: df.dropna(subset=["price"])),
    ("dedupe-rows", {"drop_duplicates": True}, lambda df: df.drop_duplicates(keep="first")),
    (
        "dedupe-keys",
        {"drop_duplicates": ["id", "region"]},
        lambda df: df.drop_duplicates(["id", "region"], keep="first"),
    ),
    (
        "all-in-order",
        {
            "rename": {"qty": "q"},
            "drop": ["when"],
            "text": [{"column": "name", "lower": True}],
            "drop_missing": ["q"],
            "drop_duplicates": ["name"],
        },
        lambda df: (
            df.rename(columns={"qty": "q"})
            .drop(columns=["when"])
            .assign(name=lambda d: d["name"].str.lower())
            .dropna(subset=["q"])
            .drop_duplicates(["name"])
        ),
    ),
]


@pytest.mark.parametrize("row_group", ROW_GROUPS)
@pytest.mark.parametrize(
    ("case", "params", "reference"),
    [c for c in CLEAN if c[2] is not None],
    ids=[c[0] for c in CLEAN if c[2] is not None],
)
def test_clean_param_matches_pandas(
    tmp_path: Path, frame: pd.DataFrame, row_group: int | None, case: str, params: dict, reference: Callable
) -> None:
    result = _one(tmp_path, frame, {"id": "n", "type": "clean", "params": params}, row_group)
    _same(result, reference(frame))


def test_clean_cast_datetime_matches_pandas(tmp_path: Path) -> None:
    frame = pd.DataFrame({"d": pd.array(["2024-01-02", "2024-03-04 05:06:07", None], dtype="str")})
    result = _one(tmp_path, frame, {"id": "n", "type": "clean", "params": {"cast": {"d": "datetime"}}}, 1)
    _same(result, frame.assign(d=pd.to_datetime(frame["d"], format="mixed")))


COMPUTE: list[Case] = [
    ("filter", {"filter": "qty > 0 and price < 5"}, lambda df: df[(df["qty"] > 0) & (df["price"] < 5)]),
    ("filter-missing-dropped", {"filter": "price != 2.25"}, lambda df: df[df["price"] != 2.25]),
    (
        "columns-in-order",
        {"columns": {"rev": "qty * price", "qty": "qty + 1", "big": "rev > 5", "label": "name + '!'"}},
        lambda df: (
            df.assign(rev=df["qty"] * df["price"])
            .assign(qty=lambda d: d["qty"] + 1)
            .assign(big=lambda d: d["rev"] > 5, label=lambda d: d["name"] + "!")
        ),
    ),
    (
        "sort",
        {"sort": ["region", "-price"]},
        lambda df: df.sort_values(
            ["region", "price"], ascending=[True, False], kind="stable", na_position="last"
        ),
    ),
    (
        "aggregate",
        {
            "aggregate": {
                "by": ["region"],
                "values": {
                    "n": "count()",
                    "q": "sum(qty)",
                    "p": "mean(price)",
                    "m": "median(price)",
                    "u": "nunique(name)",
                    "f": "first(name)",
                },
            }
        },
        lambda df: (
            df.groupby("region", sort=True, dropna=False)
            .agg(
                n=("id", "size"),
                q=("qty", "sum"),
                p=("price", "mean"),
                m=("price", "median"),
                u=("name", "nunique"),
                f=("name", "first"),
            )
            .reset_index()
        ),
    ),
    (
        "everything",
        {
            "filter": "qty >= 0",
            "columns": {"rev": "qty * price"},
            "aggregate": {"by": ["region", "flag"], "values": {"rev": "sum(rev)", "sd": "std(rev)"}},
            "sort": ["-rev"],
        },
        lambda df: (
            df[df["qty"] >= 0]
            .assign(rev=lambda d: d["qty"] * d["price"])
            .groupby(["region", "flag"], sort=True, dropna=False)
            .agg(rev=("rev", "sum"), sd=("rev", "std"))
            .reset_index()
            .sort_values("rev", ascending=False, kind="stable", na_position="last")
        ),
    ),
]


@pytest.mark.parametrize("row_group", ROW_GROUPS)
@pytest.mark.parametrize(("case", "params", "reference"), COMPUTE, ids=[c[0] for c in COMPUTE])
def test_compute_param_matches_pandas(
    tmp_path: Path, frame: pd.DataFrame, row_group: int | None, case: str, params: dict, reference: Callable
) -> None:
    result = _one(tmp_path, frame, {"id": "n", "type": "compute", "params": params}, row_group)
    _same(result, reference(frame))


@pytest.mark.parametrize(
    "params",
    [
        {"by": "rows", "partitions": 5},
        {"by": "rows"},
        {"by": "hash", "key": ["region"], "partitions": 3},
        {"by": "hash", "key": ["id", "name"], "partitions": 7},
    ],
)
def test_partition_keeps_table_and_order(tmp_path: Path, frame: pd.DataFrame, params: dict) -> None:
    part = {"id": "p", "type": "partition", "params": params}
    dedupe = {"id": "d", "type": "clean", "params": {"drop_duplicates": ["name"]}}
    write_source(frame, tmp_path / "in.parquet", 4)
    src = {"id": "src", "type": "source.parquet", "params": {"path": "in.parquet"}}
    result = run_nodes(tmp_path, [src, part, dedupe], chain(src, part, dedupe))
    _same(result, frame.drop_duplicates(["name"]))


def test_partition_hash_puts_equal_keys_together() -> None:
    from engine.nodes.kernels import repartition_hash

    df = pd.DataFrame({"k": pd.array(["a", "b", None, "a", "c", None, "b"], dtype="str"), "v": range(7)})
    parts = repartition_hash([df.iloc[:3], df.iloc[3:]], 3, ["k"])
    homes = {}
    for i, p in enumerate(parts):
        assert p.index.is_monotonic_increasing
        for key in p["k"].fillna("<NA>"):
            assert homes.setdefault(key, i) == i
    assert sorted(pd.concat(parts).index) == list(range(7))


MERGES = [
    ("concat", None, lambda left, right: pd.concat([left, right], ignore_index=True)),
    ("inner", ["k"], lambda left, right: left.merge(right, how="inner", on=["k"], suffixes=("", "_right"))),
    ("left", ["k"], lambda left, right: left.merge(right, how="left", on=["k"], suffixes=("", "_right"))),
    ("right", ["k"], lambda left, right: left.merge(right, how="right", on=["k"], suffixes=("", "_right"))),
    ("outer", ["k"], lambda left, right: left.merge(right, how="outer", on=["k"], suffixes=("", "_right"))),
]


@pytest.mark.parametrize("row_group", [None, 2])
@pytest.mark.parametrize(("how", "on", "reference"), MERGES, ids=[m[0] for m in MERGES])
def test_merge_matches_pandas(
    tmp_path: Path, row_group: int | None, how: str, on: list | None, reference: Callable
) -> None:
    left = pd.DataFrame(
        {
            "k": pd.array(["a", "b", None, "a", "d"], dtype="str"),
            "x": [1, 2, 3, 4, 5],
            "v": [0.5, 1.5, 2.5, 3.5, 4.5],
        }
    )
    right = pd.DataFrame(
        {
            "k": pd.array(["b", "a", "c", None], dtype="str"),
            "v": [10.0, 20.0, 30.0, 40.0],
            "w": pd.array(["p", "q", "r", "s"], dtype="str"),
        }
    )
    write_source(left, tmp_path / "l.parquet", row_group)
    write_source(right, tmp_path / "r.parquet", row_group)
    nodes = [
        {"id": "l", "type": "source.parquet", "params": {"path": "l.parquet"}},
        {"id": "r", "type": "source.parquet", "params": {"path": "r.parquet"}},
        {"id": "m", "type": "merge", "params": {"how": how, "on": on}},
    ]
    result = run_nodes(tmp_path, nodes, [("l.out", "m.left"), ("r.out", "m.right")])
    _same(result, reference(left, right))


def test_merge_without_right_passes_left_through(tmp_path: Path, frame: pd.DataFrame) -> None:
    write_source(frame, tmp_path / "in.parquet", 3)
    src = {"id": "src", "type": "source.parquet", "params": {"path": "in.parquet"}}
    result = run_nodes(tmp_path, [src, {"id": "m", "type": "merge", "params": {}}], [("src.out", "m.left")])
    assert list(result.columns) == list(frame.columns)
    _same(result, frame)


def test_generate_same_table_whatever_the_chunks(tmp_path: Path) -> None:
    from engine.nodes.generate import orders

    gen = {"id": "g", "type": "source.generate", "params": {"rows": 2500, "seed": 3}}
    _same(run_nodes(tmp_path, [gen], []), orders(2500, 3))


def test_sink_csv_bytes_equal_pandas_to_csv(tmp_path: Path, frame: pd.DataFrame) -> None:
    import json

    from engine.backends import Sequential
    from engine.execute import run
    from engine.projectfile import loads
    from engine.registry import builtin_registry

    write_source(frame, tmp_path / "in.parquet", 4)
    project = {
        "format": "graphmill/1",
        "nodes": [
            {"id": "src", "type": "source.parquet", "params": {"path": "in.parquet"}},
            {"id": "out", "type": "sink.csv", "params": {"path": "sub/out.csv"}},
        ],
        "edges": [{"from": "src.out", "to": "out.in"}],
    }
    registry = builtin_registry()
    run(loads(json.dumps(project)), registry, tmp_path, Sequential())
    assert (tmp_path / "sub" / "out.csv").read_bytes() == frame.to_csv(
        index=False, lineterminator="\n"
    ).encode("utf-8")
    back = pd.read_csv(tmp_path / "sub" / "out.csv")
    assert back["price"].equals(frame["price"])  # floats read back to the same values
