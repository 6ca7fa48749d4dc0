"""Executor benchmark: one reference pipeline run by Graphmill, plain pandas, dask and polars.

    .venv/bin/python tests/bench/pipeline.py [--rows 2000000 10000000] [--repeat 3]
        [--ways graphmill graphmill-held graphmill-dask pandas dask polars] [--variant] [--graphmill-root PATH] [--markdown PATH]
        [--seed 7] [--max-background 0.25]

The pipeline: read the orders CSV (ts as datetime) -> customer lower/strip/remove "[^a-z0-9 ]" ->
drop rows missing quantity or price -> drop duplicate rows (keep first) -> revenue = quantity *
price, score = sum_{k=1..20} sin(revenue*k)/k -> per region: rows, sum(revenue), mean(score),
min(price), max(price) -> CSV. Each run is its own subprocess, so wall time and peak memory
(the whole process tree) belong to that run alone; the ways alternate (A B C D A B C D ...) so
drift on a shared machine hits all of them; a run during which other programs used more than
--max-background cores is re-run. All four must give the same table, or the script exits 1. `--variant` renames the input columns and uses 19 sine terms: Graphmill must not be
faster only on the exact reference pipeline. Not a test: pytest collects test_*.py only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from benchinfo import machine  # tests/bench/benchinfo.py (the script's folder is on sys.path)

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"  # cached inputs, gitignored
CHUNK_ROWS = 500_000  # rows generated and written at a time, so generating 10M rows stays small
WAYS = ("graphmill", "graphmill-held", "graphmill-dask", "pandas", "dask", "polars")
HELD_MEMORY = "16GB"  # graphmill-held: a memory budget that spills nothing (engine.spill), side by side
VARIANT_NAMES = {"customer": "client", "region": "area", "quantity": "qty", "price": "unit_price"}
DASK_BLOCKSIZE = "64MB"
RETRIES = 3  # re-runs of a run disturbed by other programs (a shared machine), before keeping it


@dataclass(frozen=True)
class Shape:
    """The input column names and sine terms of one pipeline: the reference one or the variant."""

    customer: str
    region: str
    quantity: str
    price: str
    terms: int

    @classmethod
    def of(cls, variant: bool) -> Shape:
        names = VARIANT_NAMES if variant else {k: k for k in VARIANT_NAMES}
        return cls(**names, terms=19 if variant else 20)


PANDAS = """
import json, sys
import numpy as np, pandas as pd
c = json.loads(sys.argv[1])
df = pd.read_csv(c["path"], parse_dates=["ts"])
df[c["customer"]] = df[c["customer"]].str.lower().str.strip().str.replace("[^a-z0-9 ]", "", regex=True)
df = df.dropna(subset=[c["quantity"], c["price"]]).drop_duplicates()
df["revenue"] = df[c["quantity"]] * df[c["price"]]
df["score"] = sum(np.sin(df["revenue"] * k) / k for k in range(1, c["terms"] + 1))
res = df.groupby(c["region"], sort=True, dropna=False).agg(
    orders=(c["price"], "size"), revenue=("revenue", "sum"), score=("score", "mean"),
    min_price=(c["price"], "min"), max_price=(c["price"], "max"))
res.reset_index().to_csv(c["out"], index=False)
"""

# dd.read_csv infers dtypes from a sample of the first block: quantity and price are given as
# float64, since a sample without a missing value would make them int64 and fail on later blocks.
DASK = """
import json, sys
import numpy as np, dask, dask.dataframe as dd
c = json.loads(sys.argv[1])
dask.config.set(scheduler="threads")
q, p = c["quantity"], c["price"]
df = dd.read_csv(c["path"], parse_dates=["ts"], blocksize=c["blocksize"], dtype={q: "float64", p: "float64"})
df[c["customer"]] = df[c["customer"]].str.lower().str.strip().str.replace("[^a-z0-9 ]", "", regex=True)
df = df.dropna(subset=[q, p]).drop_duplicates()
df["revenue"] = df[q] * df[p]
df["score"] = sum(np.sin(df["revenue"] * k) / k for k in range(1, c["terms"] + 1))
res = df.groupby(c["region"], sort=True, dropna=False).agg(
    orders=(p, "size"), revenue=("revenue", "sum"), score=("score", "mean"),
    min_price=(p, "min"), max_price=(p, "max")).compute()
res.sort_index(na_position="last").reset_index().to_csv(c["out"], index=False)
"""

POLARS = """
import json, sys
import polars as pl
c = json.loads(sys.argv[1])
q, p, r = c["quantity"], c["price"], c["region"]
score = (pl.col("revenue") * 1).sin() / 1
for k in range(2, c["terms"] + 1):
    score = score + (pl.col("revenue") * k).sin() / k
res = (
    pl.scan_csv(c["path"], try_parse_dates=True, schema_overrides={q: pl.Float64, p: pl.Float64})
    .with_columns(pl.col(c["customer"]).str.to_lowercase().str.strip_chars().str.replace_all("[^a-z0-9 ]", ""))
    .drop_nulls(subset=[q, p])
    .unique(maintain_order=True)
    .with_columns(revenue=pl.col(q) * pl.col(p))
    .with_columns(score=score)
    .group_by(r)
    .agg(orders=pl.len(), revenue=pl.col("revenue").sum(), score=pl.col("score").mean(),
         min_price=pl.col(p).min(), max_price=pl.col(p).max())
    .sort(r, nulls_last=True)
    .collect(engine="streaming")
)
res.write_csv(c["out"])
"""


def dataset(rows: int, seed: int, variant: bool, root: Path) -> Path:
    """The orders CSV for (rows, seed), generated once by the engine's own generator and cached."""
    path = DATA / f"orders-{rows}-seed{seed}{'-variant' if variant else ''}.csv"
    if path.exists():
        return path
    sys.path.insert(0, str(root))
    from engine.nodes.generate import orders

    DATA.mkdir(exist_ok=True)
    partial = path.with_name(path.name + ".part")  # renamed when complete: no half file is reused
    with partial.open("w", encoding="utf-8", newline="") as f:
        for start in range(0, rows, CHUNK_ROWS):
            chunk = orders(rows, seed, start, min(start + CHUNK_ROWS, rows))
            if variant:
                chunk = chunk.rename(columns=VARIANT_NAMES)
            chunk.to_csv(f, header=start == 0, index=False)
            log(f"  generated {min(start + CHUNK_ROWS, rows):,} / {rows:,} rows -> {path.name}")
    partial.replace(path)
    return path


def project(csv: Path, shape: Shape, out: str) -> dict:
    """The pipeline as a Graphmill project (FORMAT.md), written against `shape`'s names."""
    score = " + ".join(f"sin(revenue*{k})/{k}" for k in range(1, shape.terms + 1))
    q, p = shape.quantity, shape.price
    nodes = [
        ("orders", "source.csv", {"path": str(csv), "parse_dates": ["ts"]}),
        (
            "tidy",
            "clean",
            {
                "text": [{"column": shape.customer, "lower": True, "strip": True, "remove": "[^a-z0-9 ]"}],
                "drop_missing": [q, p],
                "drop_duplicates": True,
            },
        ),
        ("split", "partition", {"by": "rows", "partitions": 8}),
        (
            "stats",
            "compute",
            {
                "columns": {"revenue": f"{q} * {p}", "score": score},
                "aggregate": {
                    "by": [shape.region],
                    "values": {
                        "orders": "count()",
                        "revenue": "sum(revenue)",
                        "score": "mean(score)",
                        "min_price": f"min({p})",
                        "max_price": f"max({p})",
                    },
                },
            },
        ),
        ("out", "sink.csv", {"path": out}),
    ]
    return {
        "format": "graphmill/1",
        "name": "Executor benchmark",
        "resources": {"backend": "auto", "workers": 2},
        "nodes": [{"id": i, "type": t, "params": params} for i, t, params in nodes],
        "edges": [{"from": f"{a[0]}.out", "to": f"{b[0]}.in"} for a, b in itertools.pairwise(nodes)],
    }


@dataclass(frozen=True)
class Run:
    """One run's figures: wall seconds, peak memory bytes, other programs' CPU use meanwhile (cores)."""

    wall: float
    peak: int
    background: float


def memory_kind() -> str:
    """PSS where the OS reports it (shared pages counted once across the tree), else RSS."""
    try:
        psutil.Process().memory_full_info().pss  # noqa: B018 (raises where PSS is missing)
        return "pss"
    except (AttributeError, psutil.Error):
        return "rss"


def _tree(pids: Sequence[int]) -> list[psutil.Process]:
    procs = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs += [root, *root.children(recursive=True)]
        except psutil.Error:
            pass
    return procs


def _cpu(pids: Sequence[int]) -> float:
    total = 0.0
    for proc in _tree(pids):
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def measure(
    cmd: list[str], cwd: Path, env: dict[str, str], log_file: Path, kind: str, cluster: Sequence[int] = ()
) -> tuple[Run, int]:
    """Run cmd: its figures (memory of its process tree polled every 50 ms) and its exit code.
    `cluster`: pids of long-lived processes the run uses (a Dask scheduler and its workers),
    whose memory counts with the run's and whose CPU is not "other programs"."""
    peak = 0
    stop = threading.Event()

    def poll(pid: int) -> None:
        nonlocal peak
        try:
            root = psutil.Process(pid)
            while not stop.is_set():
                total = 0
                for proc in [root, *root.children(recursive=True), *_tree(cluster)]:
                    try:
                        info = proc.memory_full_info() if kind == "pss" else proc.memory_info()
                        total += getattr(info, kind)
                    except psutil.Error:
                        pass  # a worker that just exited
                peak = max(peak, total)
                stop.wait(0.05)
        except psutil.Error:
            pass  # the run ended before the first sample

    busy, ours = cpu_seconds()
    ours += _cpu(cluster)
    with log_file.open("w") as out:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        poller = threading.Thread(target=poll, args=(child.pid,), daemon=True)
        poller.start()
        rc = child.wait()
        wall = time.perf_counter() - start
    stop.set()
    poller.join()
    busy_after, ours_after = cpu_seconds()
    ours_after += _cpu(cluster)
    background = (busy_after - busy - (ours_after - ours)) / wall
    return Run(wall, peak, max(background, 0.0)), rc


def cpu_seconds() -> tuple[float, float]:
    """Busy CPU seconds of the whole machine, and of this process and its finished children.

    The difference over a run is CPU that other programs used meanwhile: on a shared 2-core
    machine, a test suite running beside the benchmark shows up there instead of as a mystery.
    """
    t = psutil.cpu_times()
    machine = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return machine, me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def compare(outputs: dict[str, Path], by: str) -> list[str]:
    """Differences between the ways' tables: exact for keys, counts, min and max; rtol 1e-9 otherwise."""
    frames = {
        way: pd.read_csv(path).sort_values(by, na_position="last", kind="stable").reset_index(drop=True)
        for way, path in outputs.items()
    }
    (ref_way, ref), *others = frames.items()
    problems = []
    for way, frame in others:
        if list(frame.columns) != list(ref.columns) or len(frame) != len(ref):
            got, want = f"{list(frame.columns)} x {len(frame)}", f"{list(ref.columns)} x {len(ref)}"
            problems.append(f"{way} vs {ref_way}: columns x rows {got}, expected {want}")
            continue
        for col in ref.columns:
            a, b = ref[col], frame[col]
            if col in (by, "orders", "min_price", "max_price"):
                same = bool(((a == b) | (a.isna() & b.isna())).all())
            else:
                same = bool(np.isclose(a, b, rtol=1e-9, atol=0, equal_nan=True).all())
            if not same:
                problems.append(f"{way} vs {ref_way}: column {col!r} differs: {b.tolist()} != {a.tolist()}")
    return problems


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(title: str, results: dict[str, list[Run]], failed: dict[str, str], kind: str) -> str:
    """One Markdown table: median wall time, ratio to the pandas median, peak memory over the repeats."""
    base = statistics.median(r.wall for r in results["pandas"]) if results.get("pandas") else None
    lines = [
        f"{title}\n",
        f"| way | median wall (s) | ratio to pandas | peak memory (MiB, {kind.upper()}) | runs (s) "
        "| other programs' CPU (cores, max) |",
        "|---|---|---|---|---|---|",
    ]
    for way, runs in results.items():
        if way in failed:
            lines.append(f"| {way} | failed: {failed[way]} | | | | |")
            continue
        median = statistics.median(r.wall for r in runs)
        ratio = f"{median / base:.2f}" if base else "-"
        peak = max(r.peak for r in runs) / 2**20
        walls = ", ".join(f"{r.wall:.2f}" for r in runs)
        background = max(r.background for r in runs)
        lines.append(f"| {way} | {median:.2f} | {ratio} | {peak:,.0f} | {walls} | {background:.2f} |")
    return "\n".join(lines) + "\n"


@contextmanager
def dask_cluster(work: Path, wanted: bool, env: dict[str, str]) -> Iterator[tuple[str, list[int]]]:
    """A `dask scheduler` and two single-threaded `dask worker` processes on 127.0.0.1 for the
    whole size, as a cluster runs long before and after a job: (address, their pids)."""
    if not wanted:
        yield "", []
        return
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).with_name("dask"))
    logs = (work / "cluster.log").open("w")
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker = [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"]
    procs = [subprocess.Popen(scheduler, stdout=logs, stderr=subprocess.STDOUT, env=env)]
    try:  # the workers import the engine being measured (--graphmill-root)
        procs += [subprocess.Popen(worker, stdout=logs, stderr=subprocess.STDOUT, env=env) for _ in range(2)]
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, [p.pid for p in procs]
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)
        logs.close()


def bench(rows: int, args: argparse.Namespace, kind: str) -> tuple[str, bool]:
    """Every way at one size, alternating; the Markdown table and whether all runs agreed."""
    shape = Shape.of(args.variant)
    csv = dataset(rows, args.seed, args.variant, args.graphmill_root)
    results: dict[str, list[Run]] = {way: [] for way in args.ways}
    failed: dict[str, str] = {}
    ok = True
    gm_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(args.graphmill_root), os.environ.get("PYTHONPATH")])),
    }
    with (
        tempfile.TemporaryDirectory(prefix="graphmill-bench-") as tmp,
        dask_cluster(Path(tmp), "graphmill-dask" in args.ways, gm_env) as (address, cluster),
    ):
        work = Path(tmp)
        proj = work / "bench.graphmill.json"
        proj.write_text(json.dumps(project(csv, shape, "graphmill.csv"), indent=2))
        if {"graphmill", "graphmill-held", "graphmill-dask"} & set(args.ways):
            validate = [sys.executable, "-m", "engine", "validate", str(proj)]
            check = subprocess.run(validate, cwd=work, env=gm_env, capture_output=True, text=True)
            if check.returncode != 0:
                raise SystemExit(f"graphmill validate failed:\n{check.stdout}{check.stderr}")
        config = {**vars(shape), "path": str(csv), "blocksize": DASK_BLOCKSIZE}
        commands = {
            "graphmill": [sys.executable, "-m", "engine", "run", str(proj)],
            "graphmill-held": [
                *(sys.executable, "-m", "engine", "run", str(proj), "--memory", HELD_MEMORY),
                *("--set", "out.path=graphmill-held.csv"),
            ],
            "graphmill-dask": [
                *(sys.executable, "-m", "engine", "run", str(proj), "--backend", "dask"),
                *("--scheduler", address, "--set", "out.path=graphmill-dask.csv"),
            ],
            **{
                w: [sys.executable, "-c", s, json.dumps({**config, "out": str(work / f"{w}.csv")})]
                for w, s in (("pandas", PANDAS), ("dask", DASK), ("polars", POLARS))
            },
        }
        reruns = 0
        for repeat in range(args.repeat):
            for way in [w for w in args.ways if w not in failed]:
                log_file = work / f"{way}.log"
                env = gm_env if way.startswith("graphmill") else dict(os.environ)
                uses = cluster if way == "graphmill-dask" else []
                for attempt in range(RETRIES + 1):
                    run, rc = measure(commands[way], work, env, log_file, kind, uses)
                    if rc != 0 or run.background <= args.max_background or attempt == RETRIES:
                        break
                    reruns += 1
                    log(f"[{rows:,}] {way} disturbed (other programs used {run.background:.2f} cores): again")
                if rc != 0:
                    failed[way] = f"exit {rc}"
                    ok = False
                    log(f"[{rows:,}] {way} FAILED (exit {rc}); last output:\n{log_file.read_text()[-3000:]}")
                    continue
                results[way].append(run)
                log(
                    f"[{rows:,}] run {repeat + 1}/{args.repeat} {way:9s} {run.wall:7.2f} s  "
                    f"peak {run.peak / 2**20:7,.0f} MiB  other programs {run.background:.2f} cores"
                )
            done = {w: work / f"{w}.csv" for w in args.ways if w not in failed}
            if len(done) > 1 and (problems := compare(done, shape.region)):
                ok = False
                log(f"[{rows:,}] MISMATCH between the ways' results:\n  " + "\n  ".join(problems))
                break
    title = "variant (renamed columns, 19 sine terms)" if args.variant else "reference pipeline"
    title = f"{rows:,} rows, {title}, {args.repeat} runs each"
    if reruns:
        title += (
            f" ({reruns} runs disturbed by other programs using > {args.max_background} cores were re-run)"
        )
    return table(title, results, failed, kind), ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    parser.add_argument("--variant", action="store_true", help="renamed columns and 19 sine terms")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--max-background",
        type=float,
        default=0.25,
        help=f"re-run (up to {RETRIES} times) a run during which other programs used more cores than this",
    )
    parser.add_argument(
        "--graphmill-root", type=Path, default=HERE.parents[1], help="the engine checkout to run"
    )
    parser.add_argument("--markdown", type=Path, help="append the result tables to this file")
    args = parser.parse_args()
    args.graphmill_root = args.graphmill_root.resolve()
    kind = memory_kind()
    report = [machine(args.graphmill_root, ("pandas", "pyarrow", "polars", "dask", "numpy"))]
    ok = True
    for rows in args.rows:
        text, good = bench(rows, args, kind)
        report.append(text)
        ok = ok and good
    output = "\n".join(report)
    print(output)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as f:
            f.write(output + "\n")
    if not ok:
        print("FAILED: a way failed to run or the results differ (see above)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
