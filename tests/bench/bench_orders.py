"""Benchmark: the orders example at N rows, Graphmill against a plain pandas script.

    .venv/bin/python tests/bench/bench_orders.py [--rows 2000000] [--repeat 3]

Both sides do the same steps in FORMAT.md's order (generate -> text clean, drop_missing,
drop_duplicates -> filter, derived columns, aggregate, sort -> CSV) on the same data, and run
interleaved in one process tree, so the ratio is what to read on a shared, noisy machine. A
second pair starts from a CSV file of the same data (source.csv against pd.read_csv).
Not part of the test run: timings never go into assertions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PANDAS_SCRIPT = """
import sys, pandas as pd
sys.path.insert(0, {root!r})
from engine.nodes.generate import orders
rows, src, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
df = orders(rows, 7) if src == "generate" else pd.read_csv(src, parse_dates=["ts"])
df["customer"] = df["customer"].str.lower().str.strip().str.replace("[^a-z0-9 ]", "", regex=True)
df = df.dropna(subset=["quantity", "price"]).drop_duplicates(keep="first")
df = df[df["quantity"] > 0]
df["revenue"] = df["quantity"] * df["price"]
df["big"] = df["revenue"] > 100
res = df.groupby("region", sort=True, dropna=False).agg(
    orders=("order_id", "size"), big_orders=("big", "sum"), revenue=("revenue", "sum"),
    mean_price=("price", "mean"), customers=("customer", "nunique")).reset_index()
res = res.sort_values("revenue", ascending=False, kind="stable", na_position="last")
res.to_csv(out, index=False)
"""


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="graphmill-bench-"))
    try:
        project = json.loads((ROOT / "resources/examples/orders.graphmill.json").read_text())
        project["nodes"][0]["params"]["rows"] = args.rows
        (work / "gen.graphmill.json").write_text(json.dumps(project))
        sys.path.insert(0, str(ROOT))
        from engine.nodes.generate import orders

        orders(args.rows, 7).to_csv(work / "orders.csv", index=False)
        project["nodes"][0] = {
            "id": "orders",
            "type": "source.csv",
            "params": {"path": "orders.csv", "parse_dates": ["ts"]},
        }
        (work / "csv.graphmill.json").write_text(json.dumps(project))
        (work / "baseline.py").write_text(PANDAS_SCRIPT.format(root=str(ROOT)))
        py = sys.executable

        def graphmill(project: str) -> list[str]:
            return [py, "-m", "engine", "run", "--quiet", "--backend", args.backend, str(work / project)]

        def baseline(source: str, out: str) -> list[str]:
            return [py, str(work / "baseline.py"), str(args.rows), source, str(work / out)]

        pairs = {
            "generate": (graphmill("gen.graphmill.json"), baseline("generate", "pandas-gen.csv")),
            "csv": (graphmill("csv.graphmill.json"), baseline(str(work / "orders.csv"), "pandas-csv.csv")),
        }
        print(
            f"rows={args.rows:,} backend={args.backend} repeat={args.repeat} (median seconds, ratio graphmill/pandas)"
        )
        for name, (ours, theirs) in pairs.items():
            t_ours, t_theirs = [], []
            for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits both
                t_ours.append(timed(ours))
                t_theirs.append(timed(theirs))
            a, b = statistics.median(t_ours), statistics.median(t_theirs)
            print(f"{name:9s} graphmill {a:6.2f} s   pandas {b:6.2f} s   ratio {a / b:.2f}")
        import pandas as pd

        ours_csv = pd.read_csv(work / "out" / "revenue_by_region.csv")
        theirs_csv = pd.read_csv(work / "pandas-csv.csv")
        pd.testing.assert_frame_equal(ours_csv, theirs_csv, check_exact=False, rtol=1e-9)
        print("results: equal to the pandas script's (rtol 1e-9)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
