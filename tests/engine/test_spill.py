"""engine.spill: the memory budget, spilled frames read back exactly, and a full disk named."""

from __future__ import annotations

import errno
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine import spill
from engine.backends import Joblib
from engine.errors import DataError
from engine.execute import run
from engine.models import SIZE_PATTERN, parse_size
from engine.projectfile import loads
from engine.registry import builtin_registry

NODES = [
    {"id": "gen", "type": "source.generate", "params": {"rows": 30_000, "chunk_rows": 4_000}},
    {"id": "tidy", "type": "clean", "params": {"drop_duplicates": True}},
    {"id": "split", "type": "partition", "params": {"by": "rows", "partitions": 3}},
    {"id": "out", "type": "sink.csv", "params": {"path": "out.csv"}},
]


def _run(folder: Path, memory: int | None) -> bytes:
    project = {
        "format": "graphmill/1",
        "nodes": NODES,
        "edges": [{"from": f"{a['id']}.out", "to": f"{b['id']}.in"} for a, b in itertools.pairwise(NODES)],
    }
    registry = builtin_registry()
    backend = Joblib("threads", 2)
    try:
        result = run(loads(json.dumps(project), registry), registry, folder, backend, memory=memory)
    finally:
        backend.close()
    assert (result.spilled > 0) == (memory == 0)
    return (folder / "out.csv").read_bytes()


def test_sizes_and_the_auto_budget() -> None:
    assert [parse_size(t) for t in ("512MB", "2 GiB", "1.5G", "1000", "64k")] == [
        512 * 2**20,
        2 * 2**30,
        int(1.5 * 2**30),
        1000,
        64 * 2**10,
    ]
    for bad in ("lots", "-1MB", "1 PB", ""):
        with pytest.raises(ValueError, match="memory must be 'auto' or a size"):
            parse_size(bad)
    for text in ("512MB", "2 GiB", "1.5G", "1000", "64k", "7B", "3Ki", "lots", "1iB", "-1MB", "1 PB", "MB"):
        try:
            parse_size(text)
            parses = True
        except ValueError:
            parses = False
        assert parses == bool(re.match(SIZE_PATTERN, text)), text  # the JSON Schema agrees
    assert spill.budget_bytes("auto") == spill.budget_bytes(None) <= spill.AUTO_BUDGET
    assert spill.budget_bytes("3MB") == 3 * 2**20


def test_spilled_run_writes_the_same_bytes_and_leaves_no_folder(tmp_path: Path) -> None:
    held = _run(tmp_path, None)
    assert _run(tmp_path, 0) == held
    assert not any(spill.spill_root().iterdir())


def test_a_full_disk_while_spilling_is_named_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(spill.pickle, "dump", full)
    with pytest.raises(DataError, match=r"cannot write held data to .*No space left on device.*--memory"):
        _run(tmp_path, 0)
    assert not (tmp_path / "out.csv").exists()
    assert not any(spill.spill_root().iterdir())


def test_folders_of_killed_runs_are_swept_by_the_next_run_that_spills(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f"run-{int(dead.stdout)}-abc"
    stale.mkdir()
    (stale / "0.pickle").write_bytes(b"x")
    alive = tmp_path / f"run-{os.getpid()}-def"  # a live run's folder stays
    alive.mkdir()
    store = spill.Spill(0, tmp_path)
    frame = pd.DataFrame({"x": [1, 2, 3]})
    handle = store.hold(frame, 24, 0)
    assert isinstance(handle, spill.Spilled)
    pd.testing.assert_frame_equal(handle.load(), frame)
    assert not stale.exists() and alive.exists()
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name]
