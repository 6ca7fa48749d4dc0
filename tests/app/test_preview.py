"""app.preview: a node's first rows, types and full row count from a real `--preview-dir` run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from app.preview import PreviewWidget
from engine.nodes.generate import orders

ROWS = 30_000


@pytest.fixture(scope="module")
def preview_dir(tmp_path_factory) -> Path:
    """One real run: generate -> drop rows with a missing quantity -> aggregate."""
    root = tmp_path_factory.mktemp("preview")
    project = {
        "format": "graphmill/1",
        "nodes": [
            {"id": "src", "type": "source.generate", "params": {"rows": ROWS, "seed": 4}},
            {"id": "tidy", "type": "clean", "params": {"drop_missing": ["quantity"]}},
            {
                "id": "stats",
                "type": "compute",
                "params": {"aggregate": {"by": ["region"], "values": {"n": "count()"}}},
            },
            {"id": "out", "type": "sink.csv", "params": {"path": "out.csv"}},
        ],
        "edges": [
            {"from": "src.out", "to": "tidy.in"},
            {"from": "tidy.out", "to": "stats.in"},
            {"from": "stats.out", "to": "out.in"},
        ],
    }
    path = root / "p.graphmill.json"
    path.write_text(json.dumps(project))
    cmd = [
        sys.executable,
        "-m",
        "engine",
        "run",
        "--quiet",
        "--preview-dir",
        str(root / "preview"),
        str(path),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return root / "preview"


def test_preview_shows_first_rows_types_and_full_count(qtbot, preview_dir: Path) -> None:
    widget = PreviewWidget()
    qtbot.addWidget(widget)
    widget.set_preview_dir(preview_dir)
    widget.show_node("tidy")
    table = orders(ROWS, 4).dropna(subset=["quantity"])
    assert widget.row_count == len(table)
    assert widget.model.rowCount() == 1000
    assert widget.columns == [(c, str(t)) for c, t in table.dtypes.items()]
    head = table.head(1000).reset_index(drop=True)
    assert [widget.model.cell(r, 0) for r in range(1000)] == [str(v) for v in head["order_id"]]
    prices = ["" if pd.isna(v) else f"{float(v):.12g}" for v in head["price"]]  # missing shows as empty
    assert [widget.model.cell(r, 5) for r in range(1000)] == prices and "" in prices
    assert f"{len(table):,} rows, first 1,000 shown" in widget.message
    assert widget.model.headerData(0, Qt.Orientation.Horizontal) == "order_id\nint64"


def test_preview_small_output_and_nodes_without_one(qtbot, preview_dir: Path) -> None:
    widget = PreviewWidget()
    qtbot.addWidget(widget)
    widget.show_node("stats")
    assert "No previews yet" in widget.message
    widget.set_preview_dir(preview_dir)  # the selected node is shown once previews come
    assert widget.row_count == 6 and widget.model.rowCount() == 6
    assert widget.columns == [("region", "str"), ("n", "int64")]
    widget.show_node("out")
    assert "no preview" in widget.message and widget.model.rowCount() == 0
    widget.set_preview_dir(None)
    assert widget.model.rowCount() == 0
