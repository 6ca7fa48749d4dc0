"""Render resources/icons/graphmill.png from graphmill.svg with Qt's SVG renderer.

The PNG is committed (the .desktop file, the hicolor theme and window managers without SVG
support need one); run this after editing the SVG: `python packaging/icon.py`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def render(svg: Path, png: Path, size: int = 256) -> None:
    """Draw `svg` into a transparent `size`-pixel square and save it as `png`."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(png), "PNG"):
        raise OSError(f"cannot write {png}")


if __name__ == "__main__":
    render(ICONS / "graphmill.svg", ICONS / "graphmill.png")
    print(ICONS / "graphmill.png")
