"""A designer session in a real window, for `test_xvfb.py` (run under Xvfb, never collected).

Builds the orders pipeline in the window from the palette's node types, runs it with F5's action,
waits for the end, selects the aggregate node and saves a screenshot of the whole window.
Usage: python -m tests.app.xvfb_session WORKDIR SCREENSHOT [ROWS]
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import engine.models  # noqa: F401  (pydantic before PySide6, as in tests/conftest.py)


def main(workdir: Path, screenshot: Path, rows: int) -> int:
    from PySide6.QtWidgets import QApplication

    from app.main import MainWindow
    from engine.registry import builtin_registry

    app = QApplication([sys.argv[0]])
    window = MainWindow(builtin_registry(), recovery_dir=workdir / "recovery", autosave_ms=3_600_000)
    window.resize(1600, 1000)
    window.show()
    doc = window.document
    nodes = [
        ("source.generate", {"rows": rows}),
        ("clean", {"text": [{"column": "customer", "lower": True, "strip": True}], "drop_duplicates": True}),
        ("partition", {"partitions": 4}),
        (
            "compute",
            {
                "columns": {"revenue": "quantity * price"},
                "aggregate": {"by": ["region"], "values": {"orders": "count()", "revenue": "sum(revenue)"}},
            },
        ),
        ("sink.csv", {"path": "out/revenue.csv"}),
    ]
    ids = [doc.add_node(type_name, params, pos=(i * 250, 0)) for i, (type_name, params) in enumerate(nodes)]
    for a, b in itertools.pairwise(ids):
        doc.connect(f"{a}.out", f"{b}.in")
    doc.save(workdir / "built.graphmill.json")
    finished: list[tuple[int, object]] = []
    window.run_control.runner.finished.connect(lambda code, summary: finished.append((code, summary)))
    window.zoom_fit_action.trigger()
    window.run_action.trigger()
    deadline = time.monotonic() + 120
    while not finished and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    window.canvas.select([ids[3]])
    for _ in range(30):  # let the preview and the last chart refresh paint
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(str(screenshot))
    code = finished[0][0] if finished else None
    states = {n: window.canvas.node_state(n)[0] for n in ids}
    print(
        json.dumps(
            {
                "exit_code": code,
                "states": states,
                "samples": window.run_control.panel.samples_seen(),
                "platform": app.platformName(),
                "preview_rows": window.run_control.preview.row_count,
            }
        )
    )
    doc.undo_stack.setClean()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 2_000_000))
