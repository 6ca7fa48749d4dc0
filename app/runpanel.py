"""The run panel: per-node progress, the log, live charts and the summary of the last run.

Events arrive at whatever rate the engine sends them (hundreds of `partition_done` a second on
small partitions); nothing is painted per event. Samples go into NumPy ring buffers and rows of
the progress table are marked dirty; a 10 Hz QTimer redraws the charts and flushes the table
and the log in one go, so the window stays responsive whatever the event rate.

Interface (a QWidget; the main window puts it in a dock with `add_dock`):

- `RunPanel(parent=None, *, refresh_hz=10, capacity=4096)`: `capacity` samples per series
  (17 minutes at the engine's 4 samples a second; older ones scroll out).
- `attach(runner)`: connects an app.runner.Runner's signals to the slots below.
- slots: `run_started()`, `on_event(object)`, `on_metrics(object)`, `on_log(level, text)`,
  `on_finished(exit_code, summary)`; `reset(nodes=())` clears everything for a new run.
- signal `node_selected(str)`: a row of the progress table was clicked (show its preview).
- `samples_seen()`: metrics samples held by the charts for this run; `redraws()`: chart redraws
  so far; `node_row(node)`: the table's values for a node; `summary_text()`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsItem,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine import events as ev

from .runner import NodeProgress, RunSummary

AnyIndex = QModelIndex | QPersistentModelIndex
STATE_COLOURS = {
    "waiting": QColor(150, 150, 150),
    "running": QColor(52, 152, 219),
    "done": QColor(39, 174, 96),
    "failed": QColor(192, 57, 43),
}
NODE_COLOURS = (  # a qualitative palette (Tableau 10): neighbours never look alike
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)  # fmt: skip
LEVEL_COLOURS = {"warning": QColor(211, 84, 0), "error": QColor(192, 57, 43), "stderr": QColor(127, 140, 141)}
MAX_LOG_LINES = 5000
MIB = 1024**2


class Ring:
    """A fixed-size float buffer; `view()` gives the samples oldest first."""

    def __init__(self, capacity: int) -> None:
        self.data = np.zeros(capacity)
        self.count = 0  # samples appended in all

    def append(self, value: float) -> None:
        self.data[self.count % len(self.data)] = value
        self.count += 1

    def view(self) -> np.ndarray:
        n, cap = self.count, len(self.data)
        if n <= cap:
            return self.data[:n]
        start = n % cap
        return np.concatenate((self.data[start:], self.data[:start]))


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def short_number(value: float) -> str:
    """2500000 -> 2.5M: tick labels that stay narrow."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


class ShortAxis(pg.AxisItem):
    """An axis whose tick labels read 500k, 2M rather than 5e+05, 2e+06."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [short_number(round(v * scale, 6)) for v in values]


class ProgressModel(QAbstractTableModel):
    """Node, state, rows in/out, partitions, seconds, message: one row per node."""

    HEADERS = ("node", "state", "rows in", "rows out", "partitions", "seconds", "message")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[NodeProgress] = []
        self._index: dict[str, int] = {}
        self._dirty = False

    def reset(self, nodes: Iterable[str] = ()) -> None:
        self.beginResetModel()
        self.rows = [NodeProgress(n) for n in nodes]
        self._index = {p.node: i for i, p in enumerate(self.rows)}
        self.endResetModel()

    def get(self, node: str) -> NodeProgress:
        """The node's row; a node the run did not announce is appended."""
        i = self._index.get(node)
        if i is None:
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows))
            self.rows.append(NodeProgress(node))
            self._index[node] = i = len(self.rows) - 1
            self.endInsertRows()
        self._dirty = True
        return self.rows[i]

    def flush(self) -> None:
        """Repaint the changed values: once per timer tick, not once per event."""
        if self._dirty and self.rows:
            self._dirty = False
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(self.HEADERS) - 1))

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def values(self, p: NodeProgress) -> tuple[Any, ...]:
        return (p.node, p.state, p.rows_in, p.rows_out, p.partitions, round(p.seconds, 2), p.message)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        p, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            value = self.values(p)[col]
            if col in (2, 3, 4):
                return f"{value:,}"
            if col == 5:
                return f"{value:.2f}"
            if col == 6:
                return value.splitlines()[0] if value else ""
            return value
        if role == Qt.ItemDataRole.ToolTipRole and col == 6 and p.message:
            return p.message
        if role == Qt.ItemDataRole.ForegroundRole and col in (1, 6) and p.state in STATE_COLOURS:
            return QBrush(STATE_COLOURS[p.state])
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3, 4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


class RunPanel(QWidget):
    """Progress, log, charts and summary of a run; see the module docstring."""

    node_selected = Signal(str)

    def __init__(
        self, parent: QWidget | None = None, *, refresh_hz: float = 10, capacity: int = 4096
    ) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True, foreground=self.palette().text().color())
        self.capacity = capacity
        self._redraws = 0
        self._charts_dirty = False
        self._log_queue: list[tuple[str, str]] = []
        self._partitions = 0
        self._running = False
        self._t0 = 0.0

        self.summary = QLabel("No run yet. Run the project with F5.")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)
        font = QFont(self.summary.font())
        font.setBold(True)
        self.summary.setFont(font)

        self.model = ProgressModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        for col in range(len(ProgressModel.HEADERS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.clicked.connect(self._clicked)

        self.log_list = QListWidget()
        self.log_list.setUniformItemSizes(True)
        self.log_list.setWordWrap(False)

        tabs = QTabWidget()
        tabs.addTab(self.table, "Nodes")
        tabs.addTab(self.log_list, "Log")
        self.tabs = tabs

        self.charts = pg.GraphicsLayoutWidget()
        self.charts.setBackground(self.palette().base().color())
        self.charts.setMinimumHeight(240)
        self.rate_plot = self._plot(0, "rows per second", "rows/s")
        self.rate_plot.addLegend(offset=(-10, 2), labelTextSize="8pt", colCount=3, verSpacing=-6)
        self.cpu_plot = self._plot(1, "CPU and memory", "CPU %")
        self.part_plot = self._plot(2, "partitions done", "partitions")
        self.cpu_plot.setXLink(self.rate_plot)
        self.part_plot.setXLink(self.rate_plot)
        self.part_plot.setLabel("bottom", "seconds")
        self.mem_view = pg.ViewBox()
        self.cpu_plot.showAxis("right")
        self.cpu_plot.scene().addItem(self.mem_view)
        self.cpu_plot.getAxis("right").linkToView(self.mem_view)
        self.cpu_plot.getAxis("right").setLabel("memory MiB", color="#9b59b6")
        self.cpu_plot.getAxis("left").setLabel("CPU %", color="#e67e22")
        self.mem_view.setXLink(self.cpu_plot)
        self.cpu_plot.vb.sigResized.connect(self._sync_views)

        self.total_curve = self.rate_plot.plot(
            pen=pg.mkPen(self.palette().text().color(), width=2), name="total"
        )
        self.cpu_curve = self.cpu_plot.plot(pen=pg.mkPen((230, 126, 34), width=2), name="CPU %")
        self.mem_curve = pg.PlotDataItem(pen=pg.mkPen((155, 89, 182), width=2))
        self.mem_view.addItem(self.mem_curve)
        self.part_curve = self.part_plot.plot(pen=pg.mkPen((39, 174, 96), width=2), stepMode=None)
        self.node_curves: dict[str, pg.PlotDataItem] = {}

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(tabs)
        splitter.addWidget(self.charts)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        self.splitter = splitter
        self._sized = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

        self._reset_series()
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / refresh_hz))
        self.timer.timeout.connect(self._refresh)

    # ------------------------------------------------------------------------------ interface

    def attach(self, runner: Any) -> None:
        """Follow an app.runner.Runner: each run resets the panel and fills it."""
        runner.started.connect(self.run_started)
        runner.event.connect(self.on_event)
        runner.metrics.connect(self.on_metrics)
        runner.log.connect(self.on_log)
        runner.finished.connect(self.on_finished)

    def samples_seen(self) -> int:
        """Metrics samples the charts hold for this run."""
        return min(self.t.count, self.capacity)

    def redraws(self) -> int:
        return self._redraws

    def node_row(self, node: str) -> dict[str, Any]:
        i = self.model._index.get(node)
        if i is None:
            raise KeyError(node)
        return dict(zip(ProgressModel.HEADERS, self.model.values(self.model.rows[i]), strict=True))

    def summary_text(self) -> str:
        return self.summary.text()

    def log_lines(self) -> list[str]:
        self._flush_log()
        return [self.log_list.item(i).text() for i in range(self.log_list.count())]

    @Slot()
    def reset(self, nodes: Iterable[str] = ()) -> None:
        self.model.reset(nodes)
        self.log_list.clear()
        self._log_queue.clear()
        self._reset_series()
        self._redraw()

    @Slot()
    def run_started(self) -> None:
        self.reset()
        self._running = True
        self._t0 = time.perf_counter()
        self.summary.setText("Running...")
        self.timer.start()

    @Slot(object)
    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.model.reset(event.nodes)
            return
        if isinstance(event, ev.NodeStarted):
            p = self.model.get(event.node)
            p.type, p.state = event.type, "running"
            self._log("info", f"{event.node} started ({event.type}, stage {event.stage})")
        elif isinstance(event, ev.PartitionDone):
            p = self.model.get(event.node)
            p.state = "running" if p.state == "waiting" else p.state
            p.partitions += 1
            p.rows_in += event.rows_in
            p.rows_out += event.rows_out
            p.seconds += event.seconds
            self._partitions += 1
        elif isinstance(event, ev.NodeFinished):
            p = self.model.get(event.node)
            p.state = "done"
            p.rows_in, p.rows_out = event.rows_in, event.rows_out
            p.partitions, p.seconds = event.partitions, event.seconds
            self._log(
                "info",
                f"{event.node} done: {event.rows_in:,} rows in, {event.rows_out:,} out, {event.seconds:.2f} s",
            )
        elif isinstance(event, ev.StageStarted):
            self._log("info", f"stage {event.stage} started: {', '.join(event.nodes)}")
        elif isinstance(event, ev.StageFinished):
            self._log(
                "info", f"stage {event.stage} finished: {event.partitions} partitions, {event.seconds:.2f} s"
            )
        elif isinstance(event, ev.ErrorRaised) and event.node:
            p = self.model.get(event.node)
            p.state, p.message = "failed", event.message

    @Slot(object)
    def on_metrics(self, m: ev.Metrics) -> None:
        self.t.append(m.t)
        self.total.append(float(sum(m.rows_per_second.values())))
        self.cpu.append(m.cpu_percent)
        self.mem.append(m.memory_bytes / MIB)
        self.parts.append(self._partitions)
        self._peak = max(self._peak, m.memory_bytes)
        # in a stable order (nodes as first reported), so colours and the legend do not vary by run
        for node in [*self.node_rates, *(n for n in m.rows_per_second if n not in self.node_rates)]:
            ring = self.node_rates.get(node)
            if ring is None:  # a node's first sample: zeros before it
                ring = self.node_rates[node] = Ring(self.capacity)
                ring.count = self.t.count - 1
            ring.append(float(m.rows_per_second.get(node, 0.0)))
        self._charts_dirty = True

    @Slot(str, str)
    def on_log(self, level: str, text: str) -> None:
        self._log(level, text)

    @Slot(int, object)
    def on_finished(self, exit_code: int, summary: RunSummary) -> None:
        self.timer.stop()
        self._running = False
        for node, progress in summary.nodes.items():  # the runner's final word on each node
            p = self.model.get(node)
            p.state = progress.state
            p.message = progress.message or p.message
        self._refresh()
        self.summary.setText(self._summary_line(exit_code, summary))
        failed = [p for p in self.model.rows if p.state == "failed"]
        if failed:
            self.table.selectRow(self.model._index[failed[0].node])

    def showEvent(self, event: QShowEvent) -> None:
        """The first time: the table gets two fifths, so every column of it shows."""
        super().showEvent(event)
        if not self._sized and self.width() > 0:
            self._sized = True
            total = max(self.splitter.width(), 1)
            self.splitter.setSizes([total * 2 // 5, total - total * 2 // 5])

    # ------------------------------------------------------------------------------ internals

    def _plot(self, row: int, title: str, unit: str) -> pg.PlotItem:
        plot = self.charts.addPlot(row=row, col=0, title=title, axisItems={"left": ShortAxis("left")})
        plot.showGrid(x=True, y=True, alpha=0.2)
        for name in ("left", "bottom", "right", "top"):
            # Each axis (grid lines and tick labels over the whole plot) replays a QPicture of
            # its text on every paint of the charts: ~1.6 ms an axis, 7 axes, about half of a
            # redraw. Cached as a pixmap, only the axes whose range changed are drawn again.
            plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        plot.setLabel("left", unit)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        return plot

    def _reset_series(self) -> None:
        self.t, self.total, self.cpu, self.mem, self.parts = (Ring(self.capacity) for _ in range(5))
        self.node_rates: dict[str, Ring] = {}
        self._partitions = 0
        self._peak = 0
        self._charts_dirty = True
        for curve in self.node_curves.values():
            self.rate_plot.removeItem(curve)
        self.node_curves.clear()

    @Slot()
    def _sync_views(self) -> None:
        self.mem_view.setGeometry(self.cpu_plot.vb.sceneBoundingRect())

    def _log(self, level: str, text: str) -> None:
        self._log_queue.append((level, text))
        if not self._running:
            self._flush_log()

    def _flush_log(self) -> None:
        if not self._log_queue:
            return
        queue, self._log_queue = self._log_queue, []
        at_end = self.log_list.verticalScrollBar().value() == self.log_list.verticalScrollBar().maximum()
        for level, text in queue:
            item = QListWidgetItem(f"{level}: {text}" if level not in ("info", "stdout") else text)
            colour = LEVEL_COLOURS.get(level)
            if colour is not None:
                item.setForeground(QBrush(colour))
            self.log_list.addItem(item)
        extra = self.log_list.count() - MAX_LOG_LINES
        for _ in range(max(0, extra)):
            self.log_list.takeItem(0)
        if at_end:
            self.log_list.scrollToBottom()

    @Slot()
    def _refresh(self) -> None:
        """The timer's tick: the table, the log and the charts, each redrawn at most once."""
        self.model.flush()
        self._flush_log()
        if self._charts_dirty:
            self._redraw()

    def _redraw(self) -> None:
        self._charts_dirty = False
        self._redraws += 1
        t = self.t.view()
        self.total_curve.setData(t, self.total.view())
        self.cpu_curve.setData(t, self.cpu.view())
        self.mem_curve.setData(t, self.mem.view())
        self.part_curve.setData(t, self.parts.view())
        for node, ring in self.node_rates.items():
            curve = self.node_curves.get(node)
            if curve is None:
                colour = NODE_COLOURS[len(self.node_curves) % len(NODE_COLOURS)]
                curve = self.rate_plot.plot(pen=pg.mkPen(colour, width=1.5), name=node)
                self.node_curves[node] = curve
            curve.setData(t, ring.view()[-len(t) :] if len(t) else ring.view()[:0])
        if len(t):  # y from 0, so that a flat line does not look like a swing
            top = max(1.0, float(t[-1]))
            # The other plots (and the memory view) follow through their X links.
            self.part_plot.setXRange(0, top, padding=0.02)
            self.rate_plot.setYRange(0, max(1.0, float(self.total.view().max())) * 1.25, padding=0)
            self.cpu_plot.setYRange(0, max(100.0, float(self.cpu.view().max()) * 1.1), padding=0)
            self.mem_view.setYRange(0, max(1.0, float(self.mem.view().max()) * 1.1), padding=0)
            self.part_plot.setYRange(0, max(1.0, float(self.parts.view().max()) * 1.1), padding=0)
        self._sync_views()

    def _summary_line(self, code: int, s: RunSummary) -> str:
        head = {
            "done": "Done",
            "failed": "Failed",
            "invalid": "Cannot run as written",
            "interrupted": "Stopped",
            "crashed": "Crashed",
            "not started": "Did not start",
        }.get(s.status, s.status)
        peak = human_bytes(s.peak_memory_bytes or self._peak)
        text = f"{head} (exit {code}) in {s.seconds:.2f} s: {s.rows_in:,} rows in, {s.rows_out:,} rows out, peak memory {peak}"
        if s.errors:
            text += f"\n{s.errors[0].splitlines()[0]}"
        return text

    @Slot(QModelIndex)
    def _clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.node_selected.emit(self.model.rows[index.row()].node)
