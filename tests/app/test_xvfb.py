"""A real window under Xvfb (not offscreen): build, run, and a screenshot that shows the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from app.convert import STATE_COLORS

ROOT = Path(__file__).resolve().parents[2]


def test_real_window_under_xvfb_builds_runs_and_screenshot_shows_done_nodes(qapp, tmp_path: Path) -> None:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:  # `make test` installs it (Makefile QT_DEBS); a bare pytest may not have it
        pytest.fail("xvfb-run is missing: install the xvfb and xauth packages (make sysdeps)")
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # the real xcb platform
    shot = tmp_path / "designer.png"
    cmd = [xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-m", "tests.app.xvfb_session"]
    result = subprocess.run(
        [*cmd, str(tmp_path), str(shot), "4000000"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["platform"] == "xcb" and report["exit_code"] == 0
    assert set(report["states"].values()) == {"done"} and report["samples"] >= 3
    assert report["preview_rows"] == 6  # the aggregate by region, selected after the run
    assert (tmp_path / "out" / "revenue.csv").exists()
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1600, 1000)
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)  # kept: its buffer backs `pixels`
    pixels = np.frombuffer(rgb.constBits(), np.uint8, count=rgb.sizeInBytes())
    pixels = pixels.reshape(1000, rgb.bytesPerLine())[:, : 1600 * 3].reshape(1000, 1600, 3)
    fill = np.array(STATE_COLORS["done"][0][:3], np.uint8)  # the borders are antialiased
    done_pixels = int(np.all(pixels == fill, axis=2).sum())
    assert done_pixels > 5 * 1000, "the done nodes' green is not in the screenshot"
