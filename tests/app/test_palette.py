"""The palette lists every registered type by family; it follows run-time registrations."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.palette import FAMILIES, Palette
from engine.registry import NodeSpec, Param, Shape


def test_palette_groups_builtin_types_by_family(doc, qtbot):
    palette = Palette(doc)
    qtbot.addWidget(palette)
    types = palette.types()
    assert list(types) == [f for f in FAMILIES if f != "plugins"]
    assert types["sources"] == ["source.csv", "source.parquet", "source.generate"]
    assert types["sinks"] == ["sink.csv", "sink.parquet"]


def test_palette_shows_a_type_registered_at_run_time(doc, qtbot):
    palette = Palette(doc)
    qtbot.addWidget(palette)
    spec = NodeSpec(
        type="demo.scale",
        family="geometry",
        title="Scale",
        doc="Multiplies.",
        shape=Shape.ROW_LOCAL,
        schema=lambda ctx: ctx.input(),
        params=(Param("factor", float, "How much."),),
    )
    doc.register_node_type(spec, plugin="graphmill-demo")
    assert palette.types()["plugins"] == ["demo.scale"]
    assert "graphmill-demo" in palette.item("demo.scale").toolTip(0)


def test_palette_filter_and_activate(doc, qtbot):
    palette = Palette(doc)
    qtbot.addWidget(palette)
    palette.show()
    QTest.keyClicks(palette.filter, "parq")
    shown = [t for g, ts in palette.types().items() for t in ts if not palette.item(t).isHidden()]
    assert shown == ["source.parquet", "sink.parquet"]
    item = palette.item("sink.parquet")
    with qtbot.waitSignal(palette.activated) as sig:
        palette.tree.setCurrentItem(item)
        palette.tree.setFocus()
        QTest.keyClick(palette.tree, Qt.Key.Key_Return)
    assert sig.args == ["sink.parquet"]
