"""`backend: dask` against a real cluster: a `dask scheduler` and two `dask worker` processes
started here on 127.0.0.1 (never an in-process cluster), and `scheduler: local`."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from engine.backends import Backend, Sequential, _security, make_backend
from engine.errors import DataError
from engine.execute import run
from engine.projectfile import loads
from engine.registry import NodeSpec, Shape, builtin_registry
from engine.steps import BuildContext, Map
from tests.e2e.test_cli_run import EXAMPLES, ROOT, copy_example, graphmill, outputs
from tests.engine.test_properties import Scenario, _run_csv, scenarios

distributed = pytest.importorskip("distributed")

DASK = Path(sys.executable).with_name("dask")
# small inputs: the cluster's overhead, not the data, is what these tests are about
SMALL = {"orders": ["--set=orders.rows=20000"], "regions": ["--set=orders.rows=20000"], "stores": []}


@dataclass
class Cluster:
    address: str
    client: Any  # distributed.Client, for asking the scheduler what it ran


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """In its own process group, so the nanny and its worker are killed together."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(DASK), *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def _running_cluster(logs: Path, certs: dict[str, Path] | None = None) -> Iterator[Cluster]:
    """`dask scheduler` and two single-threaded `dask worker` processes on 127.0.0.1; with `certs`
    (ca, cert, key), on TLS, the client connecting as a run would."""
    protocol = "tls" if certs else "tcp"
    tls: list[str] = []
    if certs:
        tls = [
            "--tls-ca-file",
            str(certs["ca"]),
            "--tls-cert",
            str(certs["cert"]),
            "--tls-key",
            str(certs["key"]),
        ]
    address = f"{protocol}://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard", "--protocol", protocol]
    procs = [_start([*scheduler, *tls], logs / "scheduler.log")]
    try:
        for i in range(2):
            worker = ["worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1"]
            procs.append(
                _start([*worker, *tls, "--no-dashboard", "--name", f"w{i}"], logs / f"worker{i}.log")
            )
        security = _security({k: str(v) for k, v in certs.items()} if certs else None)
        client = distributed.Client(address, timeout=30, set_as_default=False, security=security)
        try:
            client.wait_for_workers(2, timeout=60)
            yield Cluster(address, client)
        finally:
            client.close()
    finally:
        for proc in reversed(procs):
            _stop(proc)
    assert all(p.poll() is not None for p in procs)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with _running_cluster(tmp_path_factory.mktemp("dask-logs")) as running:
        yield running


def _partition_tasks(dask_scheduler: Any) -> int:
    """Graphmill's partition tasks whose results the scheduler has seen (its per-prefix count of
    tasks that reached memory; prefixes outlive their tasks)."""
    prefix = dask_scheduler.task_prefixes.get("graphmill-partition")
    return 0 if prefix is None else int(prefix.state_counts["memory"])


def _run_until(event: str, args: list[str]) -> subprocess.Popen[str]:
    """`graphmill run --events jsonl ARGS` in a subprocess, its events read up to the first `event`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", "--events", "jsonl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["event"] == event:
            break
    return proc


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name.split(".")[0])
def test_dask_cluster_example_same_bytes_as_sequential(
    example: Path, cluster: Cluster, tmp_path: Path
) -> None:
    name = example.name.split(".")[0]
    reference = copy_example(name, tmp_path / "sequential")
    result = graphmill("run", "--quiet", "--backend", "sequential", *SMALL[name], str(reference))
    assert result.returncode == 0, result.stderr
    project = copy_example(name, tmp_path / "dask")
    before = cluster.client.run_on_scheduler(_partition_tasks)
    args = ["--backend", "dask", "--scheduler", cluster.address, "--events", "jsonl", *SMALL[name]]
    result = graphmill("run", "--quiet", *args, str(project))
    assert result.returncode == 0, result.stderr
    assert outputs(project.parent) and outputs(project.parent) == outputs(reference.parent)
    events = _events(result.stdout)
    started = next(e for e in events if e["event"] == "run_started")
    assert started["backend"] == "dask" and started["workers"] == 2
    # every partition ran in a worker process, and the scheduler counted them
    pids = {f"pid:{pid}" for pid in cluster.client.run(os.getpid).values()}
    done = [e for e in events if e["event"] == "partition_done"]
    assert done and {e["worker"] for e in done} <= pids
    tasks = sum(s["partitions"] for s in events if s["event"] == "stage_finished")
    assert cluster.client.run_on_scheduler(_partition_tasks) - before == tasks


def test_dask_project_scheduler_overridden_by_cli(cluster: Cluster, tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    data = json.loads(project.read_text())
    data["resources"] = {"backend": "dask", "scheduler": f"tcp://127.0.0.1:{_free_port()}"}
    project.write_text(json.dumps(data))
    result = graphmill("run", "--quiet", "--scheduler", cluster.address, *SMALL["orders"], str(project))
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path)


def test_dask_unreachable_scheduler_exits_2_before_reading(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    address = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "engine", "run", "--backend", "dask", "--scheduler", address, str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
        check=False,
    )
    assert result.returncode == 2
    assert f"cannot reach the Dask scheduler at {address}" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "out").exists()
    assert time.perf_counter() - t0 < 15


def test_dask_without_scheduler_exits_2(tmp_path: Path) -> None:
    project = copy_example("orders", tmp_path)
    result = graphmill("run", "--backend", "dask", str(project))
    assert result.returncode == 2
    assert "needs a scheduler address" in result.stderr and "Traceback" not in result.stderr


def test_dask_local_cluster_same_bytes_as_sequential(tmp_path: Path) -> None:
    reference = copy_example("stores", tmp_path / "sequential")
    assert graphmill("run", "--quiet", "--backend", "sequential", str(reference)).returncode == 0
    project = copy_example("stores", tmp_path / "dask")
    args = ["--backend", "dask", "--scheduler", "local", "--workers", "2", "--events", "jsonl"]
    result = graphmill("run", "--quiet", *args, str(project))
    assert result.returncode == 0, result.stderr
    assert outputs(project.parent) == outputs(reference.parent)
    events = _events(result.stdout)
    assert {e["worker"] for e in events if e["event"] == "partition_done"} - {f"pid:{os.getpid()}"}


def test_resources_scheduler_lists_the_clusters_workers(cluster: Cluster) -> None:
    result = graphmill("resources", "--scheduler", cluster.address, "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    expected = cluster.client.scheduler_info()["workers"]
    assert sorted(w["address"] for w in found["workers"]) == sorted(expected)
    assert found["threads"] == 2 and all(w["threads"] == 1 for w in found["workers"])
    assert found["memory_limit"] == sum(w["memory_limit"] for w in expected.values()) > 0
    text = graphmill("resources", "--scheduler", cluster.address)
    assert text.returncode == 0 and "workers   2, 2 threads" in text.stdout
    assert {"w0", "w1"} <= set(text.stdout.split())


def test_resources_unreachable_scheduler_exit_2(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "engine", "resources", "--scheduler", address],
        capture_output=True,
        text=True,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
        check=False,
    )
    assert result.returncode == 2 and f"cannot reach the Dask scheduler at {address}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def dask_backend(cluster: Cluster) -> Iterator[Backend]:
    backend = make_backend("dask", None, cluster.address)
    yield backend
    backend.close()


@settings(max_examples=15, deadline=None)
@given(scenario=scenarios())
def test_dask_cluster_property_graphs_same_bytes_as_sequential(
    cluster: Cluster, dask_backend: Backend, scenario: Scenario
) -> None:
    """The property tests' random graphs (sources, clean, compute, partition, merge), on the
    real cluster: byte-identical to a sequential run, and the scheduler ran the partitions."""
    before = cluster.client.run_on_scheduler(_partition_tasks)
    with tempfile.TemporaryDirectory() as tmp:
        nodes, edges = scenario.project(Path(tmp))
        expected = _run_csv(Path(tmp), nodes, edges, Sequential())
        assert _run_csv(Path(tmp), nodes, edges, dask_backend) == expected
    assert cluster.client.run_on_scheduler(_partition_tasks) > before


def _graphmill_tasks_left(dask_scheduler: Any) -> int:
    return sum(1 for key in dask_scheduler.tasks if str(key).startswith("graphmill-"))


def test_dask_sigint_mid_run_exits_130_writes_nothing_and_cancels_tasks(
    cluster: Cluster, tmp_path: Path
) -> None:
    project = copy_example("orders", tmp_path)
    args = ["--backend", "dask", "--scheduler", cluster.address, "--set=orders.rows=3000000", str(project)]
    proc = _run_until("partition_done", args)
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert time.perf_counter() - t0 < 2.0 and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()
    deadline = time.monotonic() + 10  # the client's cancel reaches the scheduler; nothing stays queued
    while cluster.client.run_on_scheduler(_graphmill_tasks_left) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.client.run_on_scheduler(_graphmill_tasks_left) == 0


def test_dask_scheduler_without_workers_says_so_and_runs_when_one_joins(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    scheduler = _start(
        ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"], tmp_path / "s.log"
    )
    worker = None
    try:
        project = copy_example("stores", tmp_path)
        args = ["run", "--backend", "dask", "--scheduler", address, "--events", "jsonl", str(project)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        warnings = []
        for line in proc.stdout:  # warnings come before run_started
            event = json.loads(line)
            if event["event"] == "run_started":
                break
            warnings.append(event.get("message", ""))
        assert any("has no workers yet: the run waits for one" in w for w in warnings), warnings
        worker_args = ["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"]
        worker = _start(worker_args, tmp_path / "w.log")
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert outputs(tmp_path)
    finally:
        for p in (worker, scheduler):
            if p is not None:
                _stop(p)


PLUGIN_ONLY_HERE = """
def shout(frame, column):
    out = frame.copy()
    out[column] = out[column].str.upper()
    return out
"""


def test_dask_worker_missing_plugin_code_names_what_to_install(
    dask_backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node type whose code this process can import but the workers cannot: exit 1 (a
    DataError naming the node) that says what every worker needs, never a traceback."""
    (tmp_path / "only_here_plugin.py").write_text(PLUGIN_ONLY_HERE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_here_plugin  # type: ignore[import-not-found]

    def build(params: dict[str, Any], ctx: BuildContext) -> list[Any]:
        return [Map(functools.partial(only_here_plugin.shout, column="customer"), "shout")]

    registry = builtin_registry()
    spec = NodeSpec(type="test.shout", family="plugins", title="Shout", doc="Upper-case customer.",
                    shape=Shape.ROW_LOCAL, schema=lambda ctx: None, build=build)  # fmt: skip
    registry.register(spec, plugin="only-here")
    nodes = [
        {"id": "gen", "type": "source.generate", "params": {"rows": 1000}},
        {"id": "loud", "type": "test.shout", "params": {}},
        {"id": "out", "type": "sink.parquet", "params": {"path": "o.parquet"}},
    ]
    edges = [{"from": "gen.out", "to": "loud.in"}, {"from": "loud.out", "to": "out.in"}]
    project = loads(json.dumps({"format": "graphmill/1", "nodes": nodes, "edges": edges}), registry)
    with pytest.raises(DataError, match="the scheduler and every worker need the same Graphmill") as info:
        run(project, registry, tmp_path, dask_backend)
    assert info.value.node in {"gen", "loud", "out"} and not (tmp_path / "o.parquet").exists()


def test_dask_worker_killed_mid_run_is_retried_or_reported(cluster: Cluster, tmp_path: Path) -> None:
    """SIGKILL to a real worker process while a stage runs: Dask reschedules its tasks on the
    other worker (same bytes), or the run fails cleanly with nothing written. Runs last: the
    nanny restarts the worker, and the fixture's cluster is waited on again."""
    reference = copy_example("orders", tmp_path / "sequential")
    assert graphmill("run", "--quiet", "--backend", "sequential", str(reference)).returncode == 0
    project = copy_example("orders", tmp_path / "dask")
    victim = max(cluster.client.run(os.getpid).values())
    proc = _run_until(
        "stage_started", ["--quiet", "--backend", "dask", "--scheduler", cluster.address, str(project)]
    )
    time.sleep(0.3)
    os.kill(victim, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:
        assert outputs(project.parent) == outputs(reference.parent)
    else:
        assert proc.returncode == 1 and "worker" in stderr and "Traceback" not in stderr, stderr
        assert not (project.parent / "out").exists()
    cluster.client.wait_for_workers(2, timeout=60)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificates(where: Path) -> dict[str, Path]:
    """A throwaway CA and one certificate it signed for 127.0.0.1, used by scheduler, workers
    and client alike (Dask's mutual TLS)."""
    where.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=graphmill test CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=where)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "node.key", "-out", "node.csr", cwd=where)  # fmt: skip
    (where / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "1", "-extfile", "san.cnf", "-out", "node.pem", cwd=where)  # fmt: skip
    return {"ca": where / "ca.pem", "cert": where / "node.pem", "key": where / "node.key"}


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command to make certificates")
def test_dask_tls_cluster_same_bytes_and_paths_never_printed(tmp_path: Path) -> None:
    certs = _certificates(tmp_path / "secret-certs")
    reference = copy_example("orders", tmp_path / "sequential")
    assert (
        graphmill("run", "--quiet", "--backend", "sequential", *SMALL["orders"], str(reference)).returncode
        == 0
    )
    (tmp_path / "logs").mkdir()
    with _running_cluster(tmp_path / "logs", certs) as c:
        project = copy_example("orders", tmp_path / "dask")
        data = json.loads(project.read_text())
        security = {k: os.path.relpath(v, project.parent) for k, v in certs.items()}
        data["resources"] = {"backend": "dask", "scheduler": c.address}
        project.write_text(json.dumps(data))
        # a tls:// scheduler without certificates: refused before connecting
        result = graphmill("run", *SMALL["orders"], str(project))
        assert result.returncode == 2 and "needs resources.security" in result.stderr, result.stderr
        data["resources"]["security"] = {**security, "key": "missing.key"}
        project.write_text(json.dumps(data))
        result = graphmill("run", *SMALL["orders"], str(project))
        assert result.returncode == 2 and "resources.security.key" in result.stderr, result.stderr
        assert "missing.key" not in result.stderr
        data["resources"]["security"] = security
        project.write_text(json.dumps(data))
        result = graphmill("run", "--events", "jsonl", *SMALL["orders"], str(project))
        assert result.returncode == 0, result.stderr
        assert outputs(project.parent) == outputs(reference.parent)
        assert "secret-certs" not in result.stdout + result.stderr
        done = [e for e in _events(result.stdout) if e["event"] == "partition_done"]
        pids = {f"pid:{pid}" for pid in c.client.run(os.getpid).values()}
        assert done and {e["worker"] for e in done} <= pids
        files = [f"--tls-{k}={v}" for k, v in certs.items()]
        result = graphmill("resources", "--json", "--scheduler", c.address, *files)
        assert result.returncode == 0 and len(json.loads(result.stdout)["workers"]) == 2, result.stderr
