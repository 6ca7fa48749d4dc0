"""Previews: the first rows of every node's output, kept as a run passes them (`--preview-dir`).

The executor taps each node's output where it is complete (engine.plan `Fn.tap`): inside the task
that computes it, which hands back the head of its partition only while the driver still needs
rows, or in the driver for a held output (an aggregate's, an exchange's, a join's). Nothing is
concatenated beyond `rows` rows per node, and a run without previews has no taps at all.

`write` puts one Parquet file per output port in a folder, `<node>.parquet` (or
`<node>.<port>.parquet` for a node with several output ports), then `manifest.json`:

    {"v": 1, "status": "done" | "failed", "rows_limit": 1000,
     "previews": {"<key>": {"node": ..., "port": ..., "file": "<key>.parquet",
                            "rows": <rows of the whole output>, "preview_rows": <rows in the file>,
                            "columns": [{"name": ..., "dtype": ...}, ...]}}}

A failed run writes the previews of the nodes that finished before the failure (the manifest
says "failed"); an interrupted run writes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PREVIEW_ROWS = 1000
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


def head_in_table_order(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """The `rows` rows of a partition that come first in the table (index = row position), as
    a copy that holds none of the partition's buffers (a slice would keep them alive)."""
    if frame.index.is_monotonic_increasing:
        return frame.take(np.arange(min(rows, len(frame))))
    return frame.take(np.argsort(frame.index.to_numpy(), kind="stable")[:rows])


@dataclass
class _Head:
    """The first rows of one output: heads of partitions in table order, or (after a hash
    split) heads of every partition, merged by row position and trimmed as they come."""

    rows: int
    parts: list[pd.DataFrame] = field(default_factory=list)
    count: int = 0
    ordered: bool = True
    empty: pd.DataFrame | None = None  # the columns, when no rows came

    def add(self, frame: pd.DataFrame, in_order: bool) -> None:
        if self.empty is None:
            self.empty = frame.iloc[:0]
        if in_order and self.ordered:
            if self.count < self.rows and len(frame):
                part = head_in_table_order(frame, self.rows - self.count)
                self.parts.append(part)
                self.count += len(part)
            return
        self.ordered = False
        if len(frame):
            self.parts.append(head_in_table_order(frame, self.rows))
            self.count += len(self.parts[-1])
        if self.count > 2 * self.rows:
            self.parts = [self.frame()]
            self.count = len(self.parts[0])

    @property
    def complete(self) -> bool:
        return self.ordered and self.count >= self.rows

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return self.empty if self.empty is not None else pd.DataFrame()
        table = self.parts[0] if len(self.parts) == 1 else pd.concat(self.parts)
        if not self.ordered:
            table = table.sort_index(kind="stable")
        return table.iloc[: self.rows]


class Previews:
    """What the executor collects for `--preview-dir`; `write` puts it in a folder."""

    def __init__(self, rows: int = PREVIEW_ROWS) -> None:
        self.rows = rows
        self.keys: dict[str, tuple[str, str]] = {}  # key -> (node, port), from the plan
        self.heads: dict[str, _Head] = {}
        self.row_counts: dict[str, int] = {}  # node -> rows of its whole output, once finished

    def expect(self, keys: dict[str, tuple[str, str]]) -> None:
        self.keys.update(keys)

    def wanted(self, keys: Iterable[str]) -> frozenset[str]:
        """The keys whose head still needs rows (asked as a task is handed out)."""
        return frozenset(k for k in keys if k not in self.heads or not self.heads[k].complete)

    def add(self, key: str, frame: pd.DataFrame, in_order: bool) -> None:
        self.heads.setdefault(key, _Head(self.rows)).add(frame, in_order)

    def add_held(self, key: str, parts: list[Any], in_order: bool) -> None:
        """A held output (frames, frames.Pieces, or frames spilled to disk, read back one at a
        time): its first partitions, or every one's head."""
        from .spill import load

        for part in parts:
            for frame in getattr(part, "parts", (part,)):
                if in_order and key in self.heads and self.heads[key].complete:
                    return
                self.add(key, load(frame), in_order)

    def finish(self, node: str, rows: int) -> None:
        self.row_counts[node] = rows

    def frames(self) -> dict[str, pd.DataFrame]:
        """Each finished node's preview, numbered 0..n-1."""
        return {
            key: self.heads[key].frame().reset_index(drop=True)
            for key, (node, _) in self.keys.items()
            if node in self.row_counts and key in self.heads
        }

    def write(self, directory: Path, status: str = "done") -> dict[str, Any]:
        """The Parquet files, then the manifest (each written to a temporary name and renamed);
        files an earlier manifest in the folder listed and this one does not are removed."""
        directory.mkdir(parents=True, exist_ok=True)
        old = read_manifest(directory)
        entries: dict[str, Any] = {}
        for key, frame in self.frames().items():
            node, port = self.keys[key]
            name = f"{key}.parquet"
            _atomic(directory / name, lambda tmp, f=frame: f.to_parquet(tmp, index=False))
            entries[key] = {
                "node": node,
                "port": port,
                "file": name,
                "rows": self.row_counts[node],
                "preview_rows": len(frame),
                "columns": [{"name": str(c), "dtype": str(t)} for c, t in frame.dtypes.items()],
            }
        manifest = {"v": MANIFEST_VERSION, "status": status, "rows_limit": self.rows, "previews": entries}
        text = json.dumps(manifest, indent=2)
        _atomic(directory / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        for entry in (old or {}).get("previews", {}).values():
            name = str(entry.get("file", ""))
            if name and name not in {e["file"] for e in entries.values()} and "/" not in name:
                (directory / name).unlink(missing_ok=True)
        return manifest


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest of a preview folder, or None when there is none (or it is not readable)."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _atomic(target: Path, write: Any) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


__all__ = ["MANIFEST", "PREVIEW_ROWS", "Previews", "head_in_table_order", "read_manifest"]
