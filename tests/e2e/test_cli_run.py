"""`graphmill run` and `graphmill demo` as a user runs them: subprocesses, exit codes, files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.graphmill.json"))


def graphmill(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def copy_example(name: str, into: Path) -> Path:
    shutil.copytree(ROOT / "resources" / "examples", into, dirs_exist_ok=True)
    return into / f"{name}.graphmill.json"


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "out").glob("*"))}


def write_project(folder: Path, nodes: list[dict], edges: list[tuple[str, str]]) -> Path:
    path = folder / "p.graphmill.json"
    project = {
        "format": "graphmill/1",
        "name": "t",
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in edges],
    }
    path.write_text(json.dumps(project))
    return path


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name.split(".")[0])
def test_run_example_same_bytes_for_every_backend_and_worker_count(example: Path, tmp_path: Path) -> None:
    results = []
    for i, args in enumerate(
        [
            ["--backend", "sequential"],
            ["--backend", "threads", "--workers", "2"],
            ["--backend", "processes", "--workers", "2"],
            ["--backend", "threads", "--workers", "3"],
        ]
    ):
        project = copy_example(example.name.split(".")[0], tmp_path / str(i))
        result = graphmill("run", "--quiet", *args, str(project))
        assert result.returncode == 0, result.stderr
        assert result.stdout == "" and result.stderr == ""
        results.append(outputs(project.parent))
    assert results[0], "the example wrote nothing"
    assert all(r == results[0] for r in results[1:])


def _float_frames_equal(a: Path, b: Path) -> None:
    read = pd.read_parquet if a.suffix == ".parquet" else pd.read_csv
    pd.testing.assert_frame_equal(read(a), read(b), check_exact=False, rtol=1e-9)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name.split(".")[0])
def test_run_example_equal_within_1e9_for_other_partitionings(example: Path, tmp_path: Path) -> None:
    project = copy_example(example.name.split(".")[0], tmp_path / "base")
    assert graphmill("run", "--quiet", str(project)).returncode == 0
    nodes = json.loads(project.read_text())["nodes"]
    splits = [n["id"] for n in nodes if n["type"] == "partition"]
    overrides = [[f"--set={s}.partitions={k}" for s in splits] for k in (1, 3, 13)]
    overrides.append([f'--set={s}.by="rows"' for s in splits])
    for i, extra in enumerate(overrides):
        other = copy_example(example.name.split(".")[0], tmp_path / f"o{i}")
        result = graphmill("run", "--quiet", *extra, str(other))
        assert result.returncode == 0, result.stderr
        for name in outputs(project.parent):
            _float_frames_equal(project.parent / "out" / name, other.parent / "out" / name)


def test_run_relative_paths_against_project_folder_not_cwd(tmp_path: Path) -> None:
    project = copy_example("regions", tmp_path / "proj")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    assert graphmill("run", "--quiet", str(project), cwd=elsewhere).returncode == 0
    assert (tmp_path / "proj" / "out" / "revenue_vs_target.csv").exists()
    assert not (elsewhere / "out").exists()


def test_run_base_dir_and_set_override(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path / "proj")
    base = tmp_path / "base"
    result = graphmill(
        "run",
        "--quiet",
        "--base-dir",
        str(base),
        "--set",
        "orders.rows=500",
        "--set",
        "out.path=res.csv",
        str(project),
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(base / "res.csv")
    assert table["orders"].sum() < 500


def test_run_set_dotted_param_sets_nested_key(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    result = graphmill(
        "run",
        "--quiet",
        "--set",
        'stats.aggregate.by=["region", "big"]',
        "--set",
        "stats.sort=null",
        str(project),
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "out" / "revenue_by_region.csv")
    assert list(table.columns[:2]) == ["region", "big"]
    bad = graphmill("run", "--set", "stats.filter.x=1", str(project))
    assert bad.returncode == 2 and "'filter' is not an object" in bad.stderr


def test_run_second_sink_fails_first_sink_file_unchanged(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.csv").write_text("old a\n")
    (tmp_path / "out" / "b").mkdir()  # a directory where the second sink's file should go
    nodes = [
        {"id": "g", "type": "source.generate", "params": {"rows": 100}},
        {"id": "a", "type": "sink.csv", "params": {"path": "out/a.csv"}},
        {"id": "b", "type": "sink.csv", "params": {"path": "out/b"}},
    ]
    path = write_project(tmp_path, nodes, [("g.out", "a.in"), ("g.out", "b.in")])
    result = graphmill("run", str(path))
    assert result.returncode == 1
    assert "node 'b'" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "out" / "a.csv").read_text() == "old a\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.csv", "b"]


FAILURES = [
    (
        "missing-file",
        {"id": "s", "type": "source.csv", "params": {"path": "nope.csv"}},
        "",
        ["node 's'", "nope.csv"],
    ),
    (
        "bad-csv-line",
        {"id": "s", "type": "source.csv", "params": {"path": "in.csv"}},
        "a,b\n1,2\n3,4,5\n",
        ["node 's'", "line 3"],
    ),
    (
        "failing-cast",
        {"id": "s", "type": "source.csv", "params": {"path": "in.csv"}},
        "a,b\n1,x\n2,2\n",
        ["node 'c'", "column 'b'", "data row 1", "'x'"],
    ),
]


@pytest.mark.parametrize(("name", "source", "text", "fragments"), FAILURES, ids=[f[0] for f in FAILURES])
def test_run_failure_exit_1_names_node_and_place_changes_nothing(
    tmp_path: Path, name: str, source: dict, text: str, fragments: list[str]
) -> None:
    if text:
        (tmp_path / "in.csv").write_text(text)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "r.csv").write_text("previous\n")
    nodes = [
        source,
        {"id": "c", "type": "clean", "params": {"cast": {"b": "int64"}} if name == "failing-cast" else {}},
        {"id": "o", "type": "sink.csv", "params": {"path": "out/r.csv"}},
    ]
    path = write_project(tmp_path, nodes, [("s.out", "c.in"), ("c.out", "o.in")])
    result = graphmill("run", str(path))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert os.listdir(tmp_path / "out") == ["r.csv"]
    assert (tmp_path / "out" / "r.csv").read_text() == "previous\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "dask"], "backend 'dask' needs a scheduler address"),
        (["--device", "gpu"], "device 'gpu' was asked for by the run, but there is no usable GPU: CuPy"),
        (["--set", "nowhere.rows=3"], "there is no node 'nowhere'"),
        (["--set", "orders.rows=-3"], "param 'rows'"),
        (["--set", "broken"], "is not of the form NODE.PARAM=VALUE"),
    ],
)
def test_run_cannot_run_as_written_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    project = copy_example("orders", tmp_path)
    result = graphmill("run", *args, str(project))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_run_node_level_backend_is_refused_not_ignored_exit_2(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    data = json.loads(project.read_text())
    data["nodes"][1]["resources"] = {"backend": "processes"}
    project.write_text(json.dumps(data))
    result = graphmill("run", str(project))
    assert result.returncode == 2, result.stderr
    assert "a node-level backend ('processes') differs from the run's" in result.stderr
    assert f"node '{data['nodes'][1]['id']}'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_run_node_level_gpu_without_one_names_node_exit_2(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    data = json.loads(project.read_text())
    node = next(n for n in data["nodes"] if n["type"] == "compute")
    node["resources"] = {"device": "gpu"}
    project.write_text(json.dumps(data))
    result = graphmill("run", str(project))
    assert result.returncode == 2, result.stderr
    assert f"node '{node['id']}'" in result.stderr and "no usable GPU" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_run_device_auto_without_gpu_runs_on_cpu_and_reports_it(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    result = graphmill(
        "run", "--device", "auto", "--events", "jsonl", "--set", "orders.rows=2000", str(project)
    )
    assert result.returncode == 0, result.stderr
    started = json.loads(result.stdout.splitlines()[0])
    assert started["event"] == "run_started" and started["device"] == "cpu (auto: no GPU found)"
    plain = graphmill("run", "--set", "orders.rows=2000", "--set", "out.path=plain.csv", str(project))
    assert "device cpu" in plain.stderr
    assert (tmp_path / "out" / "revenue_by_region.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()


def test_run_overwrite_false_existing_output_exit_2(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "revenue_by_region.csv").write_text("keep me\n")
    result = graphmill("run", "--set", "out.overwrite=false", str(project))
    assert result.returncode == 2
    assert "exists and overwrite is false" in result.stderr
    assert (tmp_path / "out" / "revenue_by_region.csv").read_text() == "keep me\n"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_run_interrupted_exits_130_143_and_writes_nothing(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    project = copy_example("orders", tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine",
            "run",
            "--backend",
            "sequential",
            "--set",
            "orders.rows=30000000",
            str(project),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "no output was written" in err
    leftovers = list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else []
    assert leftovers == []


def test_demo_copies_example_runs_and_prints_output(tmp_path: Path) -> None:
    result = graphmill("demo", str(tmp_path / "d"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "orders.graphmill.json").exists()
    out = tmp_path / "d" / "out" / "revenue_by_region.csv"
    assert f"output: {out}" in result.stdout
    table = pd.read_csv(out)
    assert list(table.columns) == ["region", "orders", "big_orders", "revenue", "mean_price", "customers"]


def test_demo_no_run_only_copies_and_prints_the_project_path(tmp_path: Path) -> None:
    result = graphmill("demo", str(tmp_path / "d"), "--no-run")
    assert result.returncode == 0, result.stderr
    project = tmp_path / "d" / "orders.graphmill.json"
    assert result.stdout.strip() == str(project) and project.exists()
    assert not (tmp_path / "d" / "out").exists()


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_run_events_jsonl_stdout_has_only_events(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    result = graphmill("run", "--events", "jsonl", "--set", "orders.rows=1500000", str(project))
    assert result.returncode == 0, result.stderr
    events = _events(result.stdout)  # every stdout line is a JSON object
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert {"node_started", "partition_done", "node_finished", "metrics"} <= set(kinds)
    assert events[-1]["exit_code"] == 0 and events[-1]["outputs"]
    read = [e for e in events if e["event"] == "partition_done" and e["node"] == "orders"]
    assert sum(e["rows_out"] for e in read) == 1_500_000
    assert all(e["worker"].startswith("pid:") for e in read)
    metrics = [e for e in events if e["event"] == "metrics"]
    assert all(m["memory_bytes"] > 0 and m["cpu_percent"] >= 0 for m in metrics)
    assert "done orders" in result.stderr  # progress stays on stderr


def test_run_events_failure_reports_error_with_node_and_exit_code(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("a,b\n1,x\n")
    nodes = [
        {"id": "s", "type": "source.csv", "params": {"path": "in.csv"}},
        {"id": "c", "type": "clean", "params": {"cast": {"b": "int64"}}},
        {"id": "o", "type": "sink.csv", "params": {"path": "o.csv"}},
    ]
    path = write_project(tmp_path, nodes, [("s.out", "c.in"), ("c.out", "o.in")])
    result = graphmill("run", "--events", "jsonl", str(path))
    assert result.returncode == 1
    events = _events(result.stdout)
    errors = [e for e in events if e["event"] == "error"]
    assert errors and errors[0]["node"] == "c" and errors[0]["column"] == "b"
    assert events[-1]["event"] == "run_finished" and events[-1]["exit_code"] == 1


def test_run_events_cannot_run_reports_exit_2(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    result = graphmill("run", "--events", "jsonl", "--set", "orders.rows=-1", str(project))
    assert result.returncode == 2
    events = _events(result.stdout)
    assert [e["event"] for e in events] == ["error", "run_finished"]
    assert events[0]["node"] == "orders" and events[1]["exit_code"] == 2
