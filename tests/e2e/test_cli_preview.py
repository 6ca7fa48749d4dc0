"""`graphmill run --preview-dir`: the first 1000 rows of every node's output, against pandas.

Each example's nodes are written again here in plain pandas on whole tables (only the generated
source comes from the engine's generator, which is the definition of that data); every preview
must equal the first 1000 rows of the reference, and the manifest the reference's row count.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from engine.nodes.generate import orders
from tests.e2e.test_cli_run import copy_example, graphmill, write_project

Reference = Callable[[Path], dict[str, pd.DataFrame]]


def _clean_text(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["customer"] = frame["customer"].str.lower().str.strip().str.replace("[^a-z0-9 ]", "", regex=True)
    return frame


def _orders_example(folder: Path) -> dict[str, pd.DataFrame]:
    source = orders(200_000, 7)
    tidy = _clean_text(source).dropna(subset=["quantity", "price"]).drop_duplicates(keep="first")
    stats = tidy[tidy["quantity"] > 0].copy()
    stats["revenue"] = stats["quantity"] * stats["price"]
    stats["big"] = stats["revenue"] > 100
    stats = stats.groupby(["region"], sort=True, dropna=False).agg(
        orders=("region", "size"),
        big_orders=("big", "sum"),
        revenue=("revenue", "sum"),
        mean_price=("price", "mean"),
        customers=("customer", "nunique"),
    )
    stats = stats.reset_index().sort_values("revenue", ascending=False, kind="stable", na_position="last")
    return {"orders": source, "tidy": tidy, "split": tidy, "stats": stats}


def _regions_example(folder: Path) -> dict[str, pd.DataFrame]:
    source = orders(100_000, 11)
    tidy = _clean_text(source).dropna(subset=["quantity", "price", "region"]).drop_duplicates(keep="first")
    targets = pd.read_csv(folder / "data" / "regions.csv", dtype={"target": "float64"})
    joined = tidy.merge(targets, how="left", on=["region"], suffixes=("", "_right"))
    by_region = joined.assign(revenue=joined["quantity"] * joined["price"])
    by_region = by_region.groupby(["region", "manager"], sort=True, dropna=False).agg(
        orders=("region", "size"), revenue=("revenue", "sum"), target=("target", "first")
    )
    vs_target = by_region.reset_index()
    by_region = vs_target.copy()
    vs_target["share_of_target"] = (vs_target["revenue"] / vs_target["target"]).round(4)
    vs_target["met"] = vs_target["revenue"] >= vs_target["target"]
    vs_target = vs_target.sort_values(["region"], kind="stable", na_position="last")
    return {
        "orders": source,
        "tidy": tidy,
        "targets": targets,
        "with_targets": joined,
        "by_region": by_region,
        "vs_target": vs_target,
    }


def _stores_example(folder: Path) -> dict[str, pd.DataFrame]:
    store_a, store_b = orders(60_000, 1), orders(40_000, 2)
    tag_a, tag_b = store_a.assign(store="A"), store_b.assign(store="B")
    both = pd.concat([tag_a, tag_b], ignore_index=True)
    tidy = both[["store", "order_id", "region", "quantity", "price"]].dropna()
    tidy = tidy.drop_duplicates(subset=["store", "order_id"], keep="first")
    summary = tidy[tidy["quantity"] > 0]
    summary = summary.assign(revenue=summary["quantity"] * summary["price"])
    summary = summary.groupby(["store", "region"], sort=True, dropna=False).agg(
        orders=("store", "size"),
        revenue=("revenue", "sum"),
        median_price=("price", "median"),
        max_quantity=("quantity", "max"),
    )
    summary = summary.reset_index().sort_values(
        ["store", "revenue"], ascending=[True, False], kind="stable", na_position="last"
    )
    return {
        "store_a": store_a,
        "store_b": store_b,
        "tag_a": tag_a,
        "tag_b": tag_b,
        "both": both,
        "tidy": tidy,
        "split": tidy,  # a hash split: its preview must still be the table's first rows
        "summary": summary,
    }


REFERENCES: dict[str, Reference] = {
    "orders": _orders_example,
    "regions": _regions_example,
    "stores": _stores_example,
}


def _check_previews(folder: Path, expected: dict[str, pd.DataFrame]) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["rows_limit"] == 1000
    assert set(manifest["previews"]) == set(expected)
    for node, reference in expected.items():
        entry = manifest["previews"][node]
        preview = pd.read_parquet(folder / entry["file"])
        head = reference.head(1000).reset_index(drop=True)
        assert entry["node"] == node and entry["port"] == "out"
        assert entry["rows"] == len(reference), node
        assert entry["preview_rows"] == len(preview) == len(head), node
        assert [c["name"] for c in entry["columns"]] == list(head.columns), node
        assert [c["dtype"] for c in entry["columns"]] == [str(t) for t in preview.dtypes], node
        pd.testing.assert_frame_equal(preview, head, check_exact=False, rtol=1e-9, obj=node)


@pytest.mark.parametrize("memory", ["auto", "1KB"])  # 1KB: every held output waits on disk
@pytest.mark.parametrize("example", sorted(REFERENCES))
def test_preview_dir_every_node_equals_pandas_head_and_counts_rows(
    example: str, memory: str, tmp_path: Path
) -> None:
    project = copy_example(example, tmp_path)
    preview = str(tmp_path / "preview")
    result = graphmill("run", "--quiet", "--memory", memory, "--preview-dir", preview, str(project))
    assert result.returncode == 0, result.stderr
    _check_previews(tmp_path / "preview", REFERENCES[example](tmp_path))


def test_preview_dir_same_from_process_workers_with_small_partitions(tmp_path: Path) -> None:
    """Heads come back from loky workers, and past the first partition (300-row partitions)."""
    project = copy_example("stores", tmp_path)
    result = graphmill(
        "run",
        "--quiet",
        "--backend",
        "processes",
        "--workers",
        "2",
        "--set",
        "split.partitions=40",
        "--preview-dir",
        str(tmp_path / "preview"),
        str(project),
    )
    assert result.returncode == 0, result.stderr
    _check_previews(tmp_path / "preview", _stores_example(tmp_path))


def test_preview_dir_failed_run_writes_finished_nodes_and_says_failed(tmp_path: Path) -> None:
    nodes = [
        {"id": "src", "type": "source.generate", "params": {"rows": 5000, "seed": 3}},
        {"id": "split", "type": "partition", "params": {"partitions": 3}},
        {"id": "bad", "type": "clean", "params": {"cast": {"customer": "int64"}}},
        {"id": "out", "type": "sink.csv", "params": {"path": "out.csv"}},
    ]
    edges = [("src.out", "split.in"), ("split.out", "bad.in"), ("bad.out", "out.in")]
    project = write_project(tmp_path, nodes, edges)
    preview = tmp_path / "preview"
    result = graphmill(
        "run", "--quiet", "--backend", "sequential", "--preview-dir", str(preview), str(project)
    )
    assert result.returncode == 1, result.stderr
    assert "node 'bad'" in result.stderr
    manifest = json.loads((preview / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert set(manifest["previews"]) == {"src", "split"}  # finished before `bad` failed
    assert not (tmp_path / "out.csv").exists()


def test_explain_without_previews_has_no_preview_steps(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    plan = graphmill("run", "--explain", str(project))
    assert plan.returncode == 0 and ":preview" not in plan.stdout
