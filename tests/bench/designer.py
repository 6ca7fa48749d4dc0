"""Designer benchmark: time to a drawn canvas for a large project, event-loop lateness during a run.

    .venv/bin/python tests/bench/designer.py [--nodes 300] [--rows 10000000] [--repeat 5]
        [--runs 3] [--platform offscreen xcb] [--skip-open] [--skip-run] [--profile DIR]
        [--markdown PATH] [--keep DIR]

1. Open: generates a project of --nodes nodes (FORMAT.md `graphmill/1`, checked with
   `graphmill validate`): lanes of source -> clean -> partition -> two computes (fan-out) ->
   merge (concat) -> aggregate -> CSV and Parquet sinks, plus a left join with the previous lane
   and a clean -> CSV sink, using every built-in node type (sources rotate through generate, CSV
   and Parquet). Two variants: without `ui` positions (opening lays it out) and with them. Each
   open is its own fresh process with a real app.main.MainWindow on the default registry, shown
   and idle first (as `graphmill gui` leaves it); the figure is the time from `open_path()` to the
   end of the first paint of the canvas's viewport after the deferred zoom-to-fit. Goal: < 2 s.
2. Run: copies resources/examples/orders.graphmill.json with `source.generate` rows = --rows,
   opens it in a fresh window, starts a 10 ms precise QTimer, presses Run (`run_action.trigger()`,
   what F5 does) and waits for the run to finish. Each tick's lateness is how much later than
   10 ms after the previous tick it came; reported: worst, 99th percentile, median, the number of
   ticks, and the run's wall time (trigger to the runner's `finished`). The window is measured
   until 0.5 s after the finish (the summary and previews load then). Goal: worst < 100 ms.

Platforms: `offscreen` (QT_QPA_PLATFORM=offscreen) and `xcb` (a real X window: the current
DISPLAY, else a fresh `xvfb-run -a`). The default is both, xcb only where it can run.
`--profile DIR` also writes cProfile stats (DIR/open-*.prof, DIR/run-*.prof) of one more open and
run, and prints their top functions. Not a test: pytest collects test_*.py only.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchinfo import machine  # tests/bench/benchinfo.py (the script's folder is on sys.path)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DISTS = ("PySide6-Essentials", "NodeGraphQt", "pyqtgraph", "pandas")  # versions in the report
EXAMPLE = ROOT / "resources" / "examples" / "orders.graphmill.json"
LANE = 12  # nodes per lane of the generated project
TICK_MS = 10
TAIL_S = 0.5  # measure this long after the run's end (summary, previews)
GOAL_OPEN_S = 2.0
GOAL_LATE_MS = 100.0
RESULT = "RESULT "  # prefix of the child's answer on stdout


# ---------------------------------------------------------------------------------- the project


def lane(k: int, source: str) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """One lane of LANE nodes (k >= 0); joins lane k-1's aggregate when there is one."""
    p = f"l{k:03d}_"
    src_params: dict[str, Any] = {
        "source.generate": {"rows": 1000 + k, "seed": k},
        "source.csv": {"path": "data/orders.csv", "parse_dates": ["ts"]},
        "source.parquet": {"path": "data/orders.parquet"},
    }[source]
    nodes = [
        (f"{p}src", source, src_params),
        (
            f"{p}tidy",
            "clean",
            {
                "text": [{"column": "customer", "lower": True, "strip": True, "remove": "[^a-z0-9 ]"}],
                "drop_missing": ["quantity", "price"],
                "drop_duplicates": True,
            },
        ),
        (
            f"{p}split",
            "partition",
            {"by": "rows", "partitions": 2} if k % 2 else {"by": "hash", "key": ["region"], "partitions": 2},
        ),
        (f"{p}pos", "compute", {"filter": "quantity > 0"}),
        (f"{p}neg", "compute", {"filter": "quantity <= 0", "columns": {"quantity": "0 - quantity"}}),
        (f"{p}both", "merge", {"how": "concat"}),
        (
            f"{p}stats",
            "compute",
            {
                "columns": {"revenue": "quantity * price"},
                "aggregate": {
                    "by": ["region"],
                    "values": {"orders": "count()", "revenue": "sum(revenue)", "mean_price": "mean(price)"},
                },
                "sort": ["-revenue"],
            },
        ),
        (f"{p}csv", "sink.csv", {"path": f"out/{p}stats.csv"}),
        (f"{p}pq", "sink.parquet", {"path": f"out/{p}stats.parquet"}),
        (f"{p}join", "merge", {"how": "left", "on": ["region"]} if k else {"how": "concat"}),
        (f"{p}named", "clean", {"rename": {"revenue": "total"}, "drop": ["mean_price"]}),
        (f"{p}out", "sink.csv", {"path": f"out/{p}joined.csv"}),
    ]
    edges = [
        (f"{p}src.out", f"{p}tidy.in"),
        (f"{p}tidy.out", f"{p}split.in"),
        (f"{p}split.out", f"{p}pos.in"),
        (f"{p}split.out", f"{p}neg.in"),
        (f"{p}pos.out", f"{p}both.left"),
        (f"{p}neg.out", f"{p}both.right"),
        (f"{p}both.out", f"{p}stats.in"),
        (f"{p}stats.out", f"{p}csv.in"),
        (f"{p}stats.out", f"{p}pq.in"),
        (f"{p}stats.out", f"{p}join.left"),
        (f"{p}join.out", f"{p}named.in"),
        (f"{p}named.out", f"{p}out.in"),
    ]
    if k:
        edges.append((f"l{k - 1:03d}_stats.out", f"{p}join.right"))
    return [{"id": i, "type": t, "params": params} for i, t, params in nodes], edges


def make_project(n: int) -> dict[str, Any]:
    """A valid project of exactly n nodes (n >= 2): whole lanes, then a short chain."""
    if n < 2:
        raise SystemExit("--nodes: at least 2")
    sources = ("source.generate", "source.csv", "source.parquet")
    nodes: list[dict[str, Any]] = []
    edges: list[tuple[str, str]] = []
    k = 0
    while n - len(nodes) >= LANE:
        more, links = lane(k, sources[k % len(sources)])
        nodes += more
        edges += links
        k += 1
    rest = n - len(nodes)
    if rest >= 2:  # generate -> compute ... -> sink
        chain = [{"id": "tail_src", "type": "source.generate", "params": {"rows": 100}}]
        chain += [
            {"id": f"tail_{i}", "type": "compute", "params": {"columns": {f"c{i}": f"price * {i}"}}}
            for i in range(1, rest - 1)
        ]
        chain.append({"id": "tail_out", "type": "sink.csv", "params": {"path": "out/tail.csv"}})
        edges += [(f"{a['id']}.out", f"{b['id']}.in") for a, b in itertools.pairwise(chain)]
        nodes += chain
    elif rest == 1:  # one more sink on the first lane's aggregate
        nodes.append({"id": "extra_out", "type": "sink.csv", "params": {"path": "out/extra.csv"}})
        edges.append(("l000_stats.out", "extra_out.in"))
    return {
        "format": "graphmill/1",
        "name": f"Designer benchmark, {n} nodes",
        "description": "Generated by tests/bench/designer.py.",
        "resources": {"backend": "auto", "workers": 2},
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in edges],
    }


def with_positions(project: dict[str, Any]) -> dict[str, Any]:
    """The same project with a `ui` position on every node (a grid: lanes as rows)."""
    out = json.loads(json.dumps(project))
    for i, node in enumerate(out["nodes"]):
        node["ui"] = {"x": (i % LANE) * 250, "y": (i // LANE) * 160}
    return out


def write_projects(folder: Path, n: int) -> dict[str, Path]:
    """The two variants and their input files in `folder`; both pass `graphmill validate`."""
    sys.path.insert(0, str(ROOT))
    from engine.nodes.generate import orders

    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    frame = orders(1000, 3, 0, 1000)
    frame.to_csv(data / "orders.csv", index=False)
    frame.to_parquet(data / "orders.parquet", index=False)
    project = make_project(n)
    paths = {
        "no positions": folder / "bench-layout.graphmill.json",
        "positions": folder / "bench-positions.graphmill.json",
    }
    paths["no positions"].write_text(json.dumps(project, indent=2), encoding="utf-8")
    paths["positions"].write_text(json.dumps(with_positions(project), indent=2), encoding="utf-8")
    types = {node["type"] for node in project["nodes"]}
    for path in paths.values():
        check = subprocess.run(
            [sys.executable, "-m", "engine", "validate", str(path)], cwd=ROOT, capture_output=True, text=True
        )
        if check.returncode != 0:
            raise SystemExit(f"graphmill validate {path} failed:\n{check.stdout}{check.stderr}")
    listed = subprocess.run(
        [sys.executable, "-m", "engine", "nodes", "--json"], cwd=ROOT, capture_output=True, text=True
    )
    builtin = {spec["type"] for spec in json.loads(listed.stdout) if not spec.get("plugin")}
    if builtin - types and n >= LANE * 3:
        raise SystemExit(f"the generated project misses node types: {sorted(builtin - types)}")
    return paths


def run_project(folder: Path, rows: int) -> Path:
    """The orders example with `rows` generated rows, its output under `folder`/out."""
    project = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    for node in project["nodes"]:
        if node["type"] == "source.generate":
            node["params"]["rows"] = rows
    path = folder / "orders-run.graphmill.json"
    path.write_text(json.dumps(project, indent=2), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- the child


def _window(tmp: Path) -> tuple[Any, Any]:
    """A QApplication and a shown, idle MainWindow, as `graphmill gui` makes them."""
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from app.main import APP_NAME, MainWindow
    from engine.registry import default_registry

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("graphmill")
    app.setOrganizationName("Graphmill")
    app.setApplicationDisplayName(APP_NAME)
    window = MainWindow(default_registry(), recovery_dir=tmp / "recovery")
    window.show()
    idle(app, 0.5)
    return app, window


def idle(app: Any, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def child_open(project: Path, tmp: Path, profile: Path | None) -> dict[str, Any]:
    """open_path() to the end of the first viewport paint after the zoom-to-fit."""
    from PySide6.QtCore import QEvent, QObject

    app, window = _window(tmp)
    canvas = window.canvas
    marks: dict[str, float] = {}
    paints: list[float] = []

    class PaintWatch(QObject):
        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.Paint and "zoom" in marks:
                paints.append(time.perf_counter())
            return False

    watch = PaintWatch()
    canvas.viewer.viewport().installEventFilter(watch)
    fit = canvas.zoom_to_fit

    def zoom() -> None:  # the deferred zoom-to-fit that rebuild() schedules
        fit()
        marks.setdefault("zoom", time.perf_counter())

    canvas.zoom_to_fit = zoom  # rebuild() looks it up on the instance
    profiler = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    ok = window.open_path(project, ask=False)
    marks["open_path"] = time.perf_counter()
    deadline = marks["open_path"] + 60
    while not paints and time.perf_counter() < deadline:
        app.processEvents()
    marks["drawn"] = time.perf_counter()
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(profile))
    if not paints:  # never painted (a platform without expose): say so, do not guess
        raise SystemExit("the canvas was not painted within 60 s")
    result = {
        "ok": ok,
        "nodes": len(canvas.node_ids()),
        "open_path": marks["open_path"] - t0,
        "zoom": marks.get("zoom", marks["drawn"]) - t0,
        "drawn": marks["drawn"] - t0,
        "modified": window.document.modified,
        "platform": app.platformName(),
    }
    window.close()
    return result


def child_run(project: Path, tmp: Path, profile: Path | None) -> dict[str, Any]:
    """A 10 ms timer's lateness while Run runs the project, in the window's own event loop."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    app, window = _window(tmp)
    window.open_path(project, ask=False)
    idle(app, 0.5)
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    finished: list[tuple[float, int, Any]] = []
    loop = QEventLoop()

    def on_finished(code: int, summary: Any) -> None:
        finished.append((time.perf_counter(), code, summary))
        QTimer.singleShot(int(TAIL_S * 1000), loop.quit)  # the summary and previews load now

    runner = window.run_control.runner
    runner.finished.connect(on_finished)
    QTimer.singleShot(30 * 60 * 1000, loop.quit)  # a run that never ends
    profiler = cProfile.Profile() if profile else None
    t0 = 0.0

    def press_run() -> None:
        nonlocal t0
        if profiler:
            profiler.enable()
        t0 = time.perf_counter()
        window.run_action.trigger()

    timer.start()
    QTimer.singleShot(300, press_run)  # ticks before the run: the idle baseline
    loop.exec()
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(profile))
    timer.stop()
    if not finished:
        raise SystemExit("the run did not finish within 30 minutes")
    t_end = finished[0][0]
    gaps = [(b - t0, (b - a) * 1000 - TICK_MS) for a, b in itertools.pairwise(ticks)]
    late = [x for at, x in gaps if at >= 0]  # every gap that ends after the trigger
    before = [x for at, x in gaps if at < 0]
    worst_at = max(((at, x) for at, x in gaps if at >= 0), key=lambda g: g[1], default=(0.0, 0.0))
    summary = finished[0][2]
    result = {
        "exit_code": finished[0][1],
        "wall": t_end - t0,
        "engine_seconds": getattr(summary, "seconds", 0.0),
        "rows_in": getattr(summary, "rows_in", 0),
        "ticks": len(late),
        "late": [max(x, 0.0) for x in late],
        "idle_worst": max(before, default=0.0),
        "worst_at": worst_at[0],
        "redraws": window.run_control.panel.redraws(),
        "samples": window.run_control.panel.samples_seen(),
        "platform": app.platformName(),
    }
    window.close()
    return result


def child(args: argparse.Namespace) -> int:
    tmp = Path(args.tmp)
    profile = Path(args.profile_to) if args.profile_to else None
    if args.child == "open":
        result = child_open(Path(args.project), tmp, profile)
    else:
        result = child_run(Path(args.project), tmp, profile)
    print(RESULT + json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------------------------- the parent


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def xcb_prefix() -> list[str] | None:
    """How to start a child on a real X server: this DISPLAY, else xvfb-run; None when neither."""
    if os.environ.get("DISPLAY"):
        return []
    xvfb = shutil.which("xvfb-run")
    return [xvfb, "-a", "-s", "-screen 0 1920x1080x24"] if xvfb else None


def platform_label(name: str) -> str:
    if name == "offscreen":
        return "offscreen"
    return f"xcb (DISPLAY={os.environ['DISPLAY']})" if os.environ.get("DISPLAY") else "xcb under Xvfb"


def spawn(kind: str, project: Path, plat: str, tmp: Path, profile: Path | None = None) -> dict[str, Any]:
    """One measurement in a fresh process; its JSON answer."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env["QT_QPA_PLATFORM"] = plat
    env["XDG_CONFIG_HOME"] = str(tmp / "config")  # recent files and settings stay out of $HOME
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--project", str(project)]
    cmd += ["--tmp", str(tmp)]
    if profile:
        cmd += ["--profile-to", str(profile)]
    if plat == "xcb":
        prefix = xcb_prefix()
        assert prefix is not None
        cmd = [*prefix, *cmd]
    done = subprocess.run(cmd, cwd=project.parent, env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line.removeprefix(RESULT))
    raise SystemExit(
        f"the {kind} child failed (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-5000:]}"
    )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, nearest rank (a worst-case-leaning figure: no interpolation down)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def bench_open(args: argparse.Namespace, plats: list[str], folder: Path) -> str:
    paths = write_projects(folder / "open", args.nodes)
    lines = [
        f"### Open a {args.nodes}-node project: `open_path()` to a drawn canvas "
        f"(goal < {GOAL_OPEN_S:g} s; median of {args.repeat} fresh processes)\n",
        "| platform | project | median to drawn (s) | runs (s) | of which `open_path()` (s, median) | goal |",
        "|---|---|---|---|---|---|",
    ]
    for plat in plats:
        for variant, path in paths.items():
            runs = []
            for i in range(args.repeat):
                r = spawn("open", path, plat, folder)
                if r["nodes"] != args.nodes or r["modified"]:
                    raise SystemExit(f"the open went wrong: {r}")
                runs.append(r)
                log(
                    f"[open {plat}, {variant}] {i + 1}/{args.repeat}: drawn {r['drawn']:.3f} s "
                    f"(open_path {r['open_path']:.3f} s, zoom {r['zoom']:.3f} s)"
                )
            med = statistics.median(r["drawn"] for r in runs)
            each = ", ".join(f"{r['drawn']:.2f}" for r in runs)
            op = statistics.median(r["open_path"] for r in runs)
            goal = "met" if med < GOAL_OPEN_S else "MISSED"
            lines.append(f"| {platform_label(plat)} | {variant} | {med:.2f} | {each} | {op:.2f} | {goal} |")
            if args.profile:
                prof = args.profile / f"open-{plat}-{variant.replace(' ', '-')}.prof"
                spawn("open", path, plat, folder, prof)
                log(top(prof, f"open, {plat}, {variant}"))
    return "\n".join(lines) + "\n"


def bench_run(args: argparse.Namespace, plats: list[str], folder: Path) -> str:
    (folder / "run").mkdir(parents=True, exist_ok=True)
    path = run_project(folder / "run", args.rows)
    lines = [
        f"### Event-loop lateness of a {TICK_MS} ms timer during a {args.rows:,}-row run started with Run (F5) "
        f"(goal: worst < {GOAL_LATE_MS:g} ms; {args.runs} runs, each in a fresh window)\n",
        "| platform | worst (ms) | p99 (ms) | median (ms) | ticks | ticks late > 50 ms | worst at (s after F5) "
        "| run wall (s) | idle worst before F5 (ms) | chart redraws | goal |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for plat in plats:
        runs = []
        for i in range(args.runs):
            r = spawn("run", path, plat, folder)
            if r["exit_code"] != 0 or r["rows_in"] != args.rows:
                raise SystemExit(f"the run went wrong: exit {r['exit_code']}, {r['rows_in']:,} rows in")
            late = r["late"]
            r["worst"], r["p99"], r["median"] = max(late), percentile(late, 99), statistics.median(late)
            runs.append(r)
            log(
                f"[run {plat}] {i + 1}/{args.runs}: worst {r['worst']:.1f} ms, p99 {r['p99']:.1f} ms, "
                f"{r['ticks']} ticks, wall {r['wall']:.2f} s (worst at {r['worst_at']:.2f} s)"
            )
        for r in runs:
            over = sum(1 for x in r["late"] if x > 50)
            goal = "met" if r["worst"] < GOAL_LATE_MS else "MISSED"
            lines.append(
                f"| {platform_label(plat)} | {r['worst']:.1f} | {r['p99']:.1f} | {r['median']:.1f} | {r['ticks']} "
                f"| {over} | {r['worst_at']:.2f} | {r['wall']:.2f} | {r['idle_worst']:.1f} | {r['redraws']} | {goal} |"
            )
        med = {k: statistics.median(r[k] for r in runs) for k in ("worst", "p99", "wall")}
        ticks = statistics.median(r["ticks"] for r in runs)
        lines.append(
            f"| {platform_label(plat)}, **median of {len(runs)}** | **{med['worst']:.1f}** | **{med['p99']:.1f}** "
            f"| | {ticks:.0f} | | | **{med['wall']:.2f}** | | | "
            f"{'met' if med['worst'] < GOAL_LATE_MS else 'MISSED'} |"
        )
        if args.profile:
            prof = args.profile / f"run-{plat}.prof"
            spawn("run", path, plat, folder, prof)
            log(top(prof, f"run, {plat}"))
    return "\n".join(lines) + "\n"


def top(path: Path, title: str, n: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("cumulative").print_stats(n)
    stats.sort_stats("tottime").print_stats(n)
    return f"--- profile: {title} ({path})\n{out.getvalue()}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1].split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--nodes", type=int, default=300, help="nodes of the generated project (default 300)")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the run (default 10,000,000)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="fresh opens per platform and variant (default 5)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per platform (default 3)")
    parser.add_argument(
        "--platform",
        nargs="+",
        choices=("offscreen", "xcb"),
        help="default: offscreen, and xcb where it can run",
    )
    parser.add_argument("--skip-open", action="store_true", help="no open measurement")
    parser.add_argument("--skip-run", action="store_true", help="no run measurement")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of one more open and run here")
    parser.add_argument("--markdown", type=Path, help="append the report to this file")
    parser.add_argument(
        "--keep", type=Path, help="generate the projects here and keep them (default: a temp dir)"
    )
    parser.add_argument("--child", choices=("open", "run"), help=argparse.SUPPRESS)
    parser.add_argument("--project", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    plats = args.platform or ["offscreen", *(["xcb"] if xcb_prefix() is not None else [])]
    if "xcb" in plats and xcb_prefix() is None:
        raise SystemExit("--platform xcb: no DISPLAY and no xvfb-run")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    report = ["## Designer benchmark (tests/bench/designer.py)\n", machine(ROOT, DISTS, dirty_path="app")]
    with tempfile.TemporaryDirectory(prefix="graphmill-designer-bench-") as tmp:
        folder = args.keep.resolve() if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not args.skip_open:
            report.append(bench_open(args, plats, folder))
        if not args.skip_run:
            report.append(bench_run(args, plats, folder))
    output = "\n".join(report)
    print(output)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as f:
            f.write(output + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
