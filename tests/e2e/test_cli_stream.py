"""The streaming executor seen from outside: `--explain`, stage events, bounded memory."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.e2e.test_cli_run import copy_example, graphmill, write_project


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_explain_json_shows_fused_stages_and_reads_no_data(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    result = graphmill("run", "--explain", "--json", str(project))
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    stages = [op for op in plan["ops"] if op["op"] == "stage"]
    assert plan["stages"] == len(stages)
    steps = [[f"{s['node']}:{s['step']}" for s in st["steps"]] for st in stages]
    assert ["orders:read", "tidy:select", "tidy:tidy", "tidy:dedupe hashes (partial)"] in steps
    assert ["stats:filter+columns", "stats:aggregate (partial)"] in steps
    assert [op["node"] for op in plan["ops"] if op["op"] == "exchange"] == ["split"]
    assert not (tmp_path / "out").exists()  # nothing ran
    text = graphmill("run", "--explain", str(project))
    assert text.returncode == 0 and "stage s1 (one task per partition of orders:read)" in text.stdout


def test_explain_of_a_bad_project_exits_2(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    result = graphmill("run", "--explain", "--set", "stats.filter=quantity >", str(project))
    assert result.returncode == 2
    assert "node 'stats', param 'filter'" in result.stderr and "Traceback" not in result.stderr


def test_events_one_task_per_partition_per_stage_and_rows_add_up(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    plan = json.loads(graphmill("run", "--explain", "--json", str(project)).stdout)
    result = graphmill(
        "run",
        "--events",
        "jsonl",
        "--backend",
        "processes",
        "--workers",
        "2",
        "--set",
        "orders.rows=450000",
        str(project),
    )
    assert result.returncode == 0, result.stderr
    events = _events(result.stdout)
    started = [e for e in events if e["event"] == "stage_started"]
    finished = {e["stage"]: e for e in events if e["event"] == "stage_finished"}
    planned = {op["id"]: op["nodes"] for op in plan["ops"] if op["op"] == "stage"}
    assert {e["stage"]: e["nodes"] for e in started} == planned
    tasks: dict[tuple[str, int], set[tuple[str, float]]] = defaultdict(set)
    for e in events:
        if e["event"] == "partition_done":
            tasks[(e["stage"], e["partition"])].add((e["worker"], e["seconds"]))
    for stage, done in finished.items():
        numbers = sorted(p for s, p in tasks if s == stage)
        assert numbers == list(range(done["partitions"])), stage
    assert all(len(v) == 1 for v in tasks.values())  # the nodes of a task share one worker and time
    assert len({w for v in tasks.values() for w, _ in v}) >= 2  # spread over the two workers

    parts = [e for e in events if e["event"] == "partition_done"]
    totals = {e["node"]: e for e in events if e["event"] == "node_finished"}
    for node, total in totals.items():
        mine = [e for e in parts if e["node"] == node]
        if not mine:  # an exchange runs in the driver, on the whole table
            continue
        first, last = mine[0]["stage"], mine[-1]["stage"]
        assert sum(e["rows_in"] for e in mine if e["stage"] == first) == total["rows_in"], node
        if node in ("orders", "out"):  # row-local: what leaves its last stage is its output
            assert sum(e["rows_out"] for e in mine if e["stage"] == last) == total["rows_out"], node
    assert totals["orders"]["rows_out"] == 450_000


# The child reports its own high-water mark (VmHWM): the kernel's ru_maxrss of a child also
# counts the forking process's resident memory (the whole pytest session) at the exec.
_PEAK = """
import os, sys
from engine.cli import main
code = main(sys.argv[1:])
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
open(os.environ["GRAPHMILL_TEST_PEAK"], "w").write(hwm.split()[1])
sys.exit(code)
"""


def _peak_rss(args: list[str], cwd: Path) -> int:
    """Peak resident memory (bytes) of a `graphmill` run in a child process."""
    out = cwd / "peak.txt"
    env = {**os.environ, "GRAPHMILL_TEST_PEAK": str(out)}
    proc = subprocess.run([sys.executable, "-c", _PEAK, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    assert proc.returncode == 0
    return int(out.read_text()) * 1024


# revenue by region: an aggregate at the end of a chain, which then holds no frames
STATS = {
    "id": "stats",
    "type": "compute",
    "params": {
        "columns": {"revenue": "quantity * price"},
        "aggregate": {"by": ["region"], "values": {"n": "count()", "revenue": "sum(revenue)"}},
    },
}


def test_generate_pipeline_memory_follows_partition_size_not_data_size(tmp_path: Path) -> None:
    nodes = [
        {"id": "gen", "type": "source.generate", "params": {"rows": 500_000}},
        {
            "id": "tidy",
            "type": "clean",
            "params": {"text": [{"column": "customer", "lower": True, "strip": True}]},
        },
        STATS,
        {"id": "out", "type": "sink.csv", "params": {"path": "o.csv"}},
    ]
    project = write_project(
        tmp_path, nodes, [("gen.out", "tidy.in"), ("tidy.out", "stats.in"), ("stats.out", "out.in")]
    )
    run = ["run", "--quiet", "--backend", "threads", "--workers", "2", str(project)]
    small = _peak_rss(run, tmp_path)
    large = _peak_rss([*run, "--set", "gen.rows=4000000"], tmp_path)
    assert large <= 1.5 * small, f"{large / 2**20:.0f} MB at 4M rows vs {small / 2**20:.0f} MB at 500k"


def _dedupe_project(tmp_path: Path) -> Path:
    nodes = [
        {"id": "gen", "type": "source.generate", "params": {"rows": 400_000}},
        {"id": "tidy", "type": "clean", "params": {"drop_duplicates": True}},
        {"id": "split", "type": "partition", "params": {"by": "rows", "partitions": 6}},
        STATS,
        {"id": "out", "type": "sink.csv", "params": {"path": "o.csv"}},
    ]
    edges = [(f"{a['id']}.out", f"{b['id']}.in") for a, b in itertools.pairwise(nodes)]
    return write_project(tmp_path, nodes, edges)


def test_held_frames_beyond_the_memory_budget_wait_on_disk(tmp_path: Path) -> None:
    """Dedupe's second pass and a row split hold the whole table: with a budget, what is over it
    is spilled, the memory follows the budget, not the data, and the output is the same bytes."""
    project = _dedupe_project(tmp_path)
    run = ["run", "--quiet", "--backend", "threads", "--workers", "2", str(project)]
    spill = Path(os.environ["GRAPHMILL_SPILL_DIR"])
    held = _peak_rss([*run, "--memory", "8GB"], tmp_path)
    expected = (tmp_path / "o.csv").read_bytes()
    small = _peak_rss([*run, "--memory", "16MB"], tmp_path)
    assert (tmp_path / "o.csv").read_bytes() == expected
    large = _peak_rss([*run, "--memory", "16MB", "--set", "gen.rows=3200000"], tmp_path)
    big_held = _peak_rss([*run, "--memory", "8GB", "--set", "gen.rows=3200000"], tmp_path)
    left = list(spill.iterdir())
    assert not left, f"a run left its spill folder behind: {left}"
    mb = {
        k: f"{v / 2**20:.0f} MB"
        for k, v in dict(held=held, small=small, large=large, big_held=big_held).items()
    }
    # 8x the rows: held in memory, the peak grows by the whole table; spilled, by a fraction of it
    assert large - small < 0.5 * (big_held - held), mb
    assert big_held - large > 150 * 2**20, mb
    # the run says how much waited on disk: in its last event, and on the terminal
    for memory, spilled in (("1MB", True), ("8GB", False)):
        result = graphmill("run", "--events", "jsonl", "--memory", memory, str(project))
        assert result.returncode == 0, result.stderr
        assert (_events(result.stdout)[-1]["spilled_bytes"] > 2**20) == spilled
        assert ("MB of held data waited on disk" in result.stderr) == spilled
    # processes read the spilled frames themselves
    on_processes = graphmill("run", "--quiet", "--backend", "processes", str(project), "--memory", "1MB")
    assert on_processes.returncode == 0, on_processes.stderr
    assert (tmp_path / "o.csv").read_bytes() == expected


def test_memory_option_and_resource_errors_exit_2(tmp_path: Path) -> None:
    project = _dedupe_project(tmp_path)
    bad = graphmill("run", "--memory", "lots", str(project))
    assert bad.returncode == 2 and "memory must be 'auto' or a size" in bad.stderr
    data = json.loads(project.read_text())
    data["resources"] = {"memory": "a lot"}
    project.write_text(json.dumps(data))
    bad = graphmill("run", str(project))
    assert bad.returncode == 2 and "memory" in bad.stderr and "Traceback" not in bad.stderr
    data["resources"] = {"memory": "512MB"}
    data["nodes"][1]["resources"] = {"memory": "1GB"}
    project.write_text(json.dumps(data))
    bad = graphmill("run", str(project))
    assert bad.returncode == 2 and "node 'tidy', param 'resources.memory'" in bad.stderr
