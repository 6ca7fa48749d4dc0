"""engine.machine on fake /proc and cgroup trees, a fake `nvidia-smi`, and `graphmill resources`."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest

from engine import backends
from engine.cli import main
from engine.machine import Gpu, available_cores, describe, machine

GIB = 1024**3
MIB = 1024**2
MEMINFO = "MemTotal:        8388608 kB\nMemFree:         1048576 kB\nMemAvailable:    6291456 kB\n"


def _tree(root: Path, files: dict[str, str]) -> tuple[Path, Path]:
    """Write `files` (paths under `proc/` or `cgroup/`) and return the two roots."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for sub in ("proc", "cgroup"):
        (root / sub).mkdir(exist_ok=True)
    return root / "proc", root / "cgroup"


@pytest.fixture
def four_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)


@pytest.mark.parametrize(
    ("files", "limit", "cores"),
    [
        ({"cgroup/cpu.max": "150000 100000\n"}, 1.5, 2),
        ({"cgroup/cpu.max": "max 100000\n"}, None, 4),
        ({"cgroup/cpu.max": "50000 100000\n"}, 0.5, 1),
        ({"cgroup/cpu.max": "800000 100000\n"}, 8.0, 4),
        ({"cgroup/cpu/cpu.cfs_quota_us": "250000\n", "cgroup/cpu/cpu.cfs_period_us": "100000\n"}, 2.5, 3),
        (
            {
                "cgroup/cpu,cpuacct/cpu.cfs_quota_us": "100000",
                "cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000",
            },
            1.0,
            1,
        ),
        ({"cgroup/cpu/cpu.cfs_quota_us": "-1\n", "cgroup/cpu/cpu.cfs_period_us": "100000\n"}, None, 4),
        ({"cgroup/cpu.max": "garbage\n"}, None, 4),
    ],
    ids=[
        "v2-1.5",
        "v2-max",
        "v2-half",
        "v2-above-affinity",
        "v1-2.5",
        "v1-cpu,cpuacct",
        "v1-unlimited",
        "v2-garbage",
    ],
)
def test_machine_cpu_quota_on_four_affine_cpus_bounds_cores(
    tmp_path: Path, four_cpus: None, files: dict[str, str], limit: float | None, cores: int
) -> None:
    found = machine(*_tree(tmp_path, files), gpus=False)
    assert (found.cores, found.cgroup_cpu_limit, found.affinity, found.logical_cpus) == (cores, limit, 4, 8)


def test_machine_nested_cgroup_tightest_cpu_limit_wins(tmp_path: Path, four_cpus: None) -> None:
    files = {
        "proc/self/cgroup": "0::/outer/inner\n",
        "cgroup/outer/cpu.max": "100000 100000\n",
        "cgroup/outer/inner/cpu.max": "max 100000\n",
    }
    found = machine(*_tree(tmp_path, files), gpus=False)
    assert (found.cores, found.cgroup_cpu_limit) == (1, 1.0)


def test_machine_own_cgroup_missing_reads_mount_root(tmp_path: Path, four_cpus: None) -> None:
    files = {"proc/self/cgroup": "0::/docker/abc\n", "cgroup/cpu.max": "200000 100000\n"}
    assert machine(*_tree(tmp_path, files), gpus=False).cores == 2


@pytest.mark.parametrize(
    ("files", "limit", "total", "available"),
    [
        (
            {"cgroup/memory.max": str(2 * GIB), "cgroup/memory.current": str(512 * MIB)},
            2 * GIB,
            2 * GIB,
            1536 * MIB,
        ),
        ({"cgroup/memory.max": "max\n", "cgroup/memory.current": "1000\n"}, None, 8 * GIB, 6 * GIB),
        ({"cgroup/memory.max": str(16 * GIB)}, 16 * GIB, 8 * GIB, 6 * GIB),
        (
            {
                "cgroup/memory/memory.limit_in_bytes": str(GIB),
                "cgroup/memory/memory.usage_in_bytes": str(GIB // 4),
            },
            GIB,
            GIB,
            768 * MIB,
        ),
        ({"cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, None, 8 * GIB, 6 * GIB),
        ({}, None, 8 * GIB, 6 * GIB),
    ],
    ids=["v2-below-memtotal", "v2-max", "v2-above-memtotal", "v1-limit", "v1-unlimited", "none"],
)
def test_machine_memory_limit_bounds_total_and_available(
    tmp_path: Path, files: dict[str, str], limit: int | None, total: int, available: int
) -> None:
    found = machine(*_tree(tmp_path, {"proc/meminfo": MEMINFO, **files}), gpus=False)
    assert (found.cgroup_memory_limit, found.memory_total, found.memory_available) == (
        limit,
        total,
        available,
    )


def test_machine_nested_v1_memory_limit_uses_its_own_usage(tmp_path: Path) -> None:
    files = {
        "proc/meminfo": MEMINFO,
        "proc/self/cgroup": "4:memory:/jobs/one\n0::/\n",
        "cgroup/memory/memory.limit_in_bytes": "9223372036854771712",
        "cgroup/memory/jobs/memory.limit_in_bytes": str(4 * GIB),
        "cgroup/memory/jobs/memory.usage_in_bytes": str(GIB),
        "cgroup/memory/jobs/one/memory.limit_in_bytes": "9223372036854771712",
    }
    found = machine(*_tree(tmp_path, files), gpus=False)
    assert (found.cgroup_memory_limit, found.memory_total, found.memory_available) == (
        4 * GIB,
        4 * GIB,
        3 * GIB,
    )


def test_machine_missing_files_sane_defaults(tmp_path: Path, four_cpus: None) -> None:
    found = machine(*_tree(tmp_path, {}), gpus=False)
    assert (found.cores, found.affinity, found.cgroup_cpu_limit, found.cgroup_memory_limit) == (
        4,
        4,
        None,
        None,
    )
    assert found.memory_total > 0 and found.memory_available >= 0
    assert found.gpus == ()


def _fake_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str | None) -> None:
    """PATH holds only `tmp_path/bin` (with `nvidia-smi` when a script is given); CuPy cannot import."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if script is not None:
        exe = bin_dir / "nvidia-smi"
        exe.write_text("#!/bin/sh\n" + script)
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setitem(sys.modules, "cupy", None)


def test_gpus_fake_nvidia_smi_reports_tesla_t4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_path(monkeypatch, tmp_path, 'echo "0, Tesla T4, 15360"\n')
    found = machine(*_tree(tmp_path, {}))
    assert found.gpus == (Gpu(0, "Tesla T4", 15360 * MIB),)
    assert "Tesla T4, 15.0 GiB" in "\n".join(describe(found))


@pytest.mark.parametrize(
    "script", [None, "exit 9\n", 'echo "not, a, number"\n'], ids=["absent", "fails", "garbage"]
)
def test_gpus_no_cupy_and_no_working_nvidia_smi_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str | None
) -> None:
    _fake_path(monkeypatch, tmp_path, script)
    found = machine(*_tree(tmp_path, {}))
    assert found.gpus == ()
    reason = "no nvidia-smi" if script is None else "nvidia-smi found none"
    assert f"gpus    none found (no CuPy, {reason})" in describe(found)


def test_available_cores_backends_reexport_same_function() -> None:
    assert backends.available_cores is available_cores
    assert available_cores() == machine(gpus=False).cores >= 1


def _root_cpu_quota() -> float | None:
    """The quota at the cgroup mount root, read independently of engine.machine."""
    root = Path("/sys/fs/cgroup")
    try:
        quota, period = (root / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        return quota_us / int((root / "cpu" / "cpu.cfs_period_us").read_text()) if quota_us > 0 else None
    except (OSError, ValueError):
        return None


def test_cli_resources_json_cores_follow_affinity_and_quota(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resources", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    affinity = len(os.sched_getaffinity(0))
    root_quota = _root_cpu_quota()
    assert payload["affinity"] == affinity
    assert 1 <= payload["cores"] <= (min(affinity, math.ceil(root_quota)) if root_quota else affinity)
    limit = payload["cgroup_cpu_limit"]
    assert payload["cores"] == (max(1, min(affinity, math.ceil(limit))) if limit else affinity)
    assert payload["memory_total"] > 0 and payload["memory_available"] >= 0
    assert isinstance(payload["gpus"], list)


def test_cli_resources_human_mentions_cores_and_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resources"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"cores   {available_cores()} (affinity ")
    assert "logical CPUs" in out and "GiB total" in out and "GiB available" in out
    assert "gpus" in out or "gpu 0" in out
