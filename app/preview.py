"""The data preview: a node's first rows, column types and full row count, after a run.

The rows come from the run's `--preview-dir` (engine.preview: one Parquet file per node output
and a manifest), never from running anything here. The table is a QTableView over a small
QAbstractTableModel whose cells are formatted only when painted, so 1000 rows x 50 columns cost
nothing until scrolled to (a QTableWidget would build 50 000 items).

Interface:

- `PreviewWidget(parent=None)`
- `set_preview_dir(path | None)`: the folder of the last run (Runner.preview_dir); clears the view.
- `show_node(node_id, port=None)` (slot): shows that node's output, or says why there is none.
- `clear(message="")`
- read-only: `model` (PreviewModel), `row_count` (rows of the whole output, None if unknown),
  `columns` ([(name, dtype)]), `node`, `message` (what the header line says).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Slot
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QLabel, QTableView, QVBoxLayout, QWidget

from engine.preview import read_manifest

AnyIndex = QModelIndex | QPersistentModelIndex


def _format(value: Any) -> str:
    # 12 significant digits: what a person reads (1188078586.64, not the float's 1188078586.6399999)
    if isinstance(value, float | np.floating):
        return f"{float(value):.12g}" if math.isfinite(value) else str(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    return str(value)


class PreviewModel(QAbstractTableModel):
    """A DataFrame of at most a few thousand rows, shown read-only; each column kept as a
    NumPy object array plus a missing-value mask, so a cell is two array lookups."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._dtypes: list[str] = []
        self._values: list[np.ndarray] = []
        self._missing: list[np.ndarray] = []
        self._numeric: list[bool] = []
        self._rows = 0

    def set_frame(self, frame: pd.DataFrame | None) -> None:
        self.beginResetModel()
        frame = frame if frame is not None else pd.DataFrame()
        self._names = [str(c) for c in frame.columns]
        self._dtypes = [str(t) for t in frame.dtypes]
        self._values = [frame.iloc[:, i].to_numpy(dtype=object) for i in range(frame.shape[1])]
        self._missing = [frame.iloc[:, i].isna().to_numpy() for i in range(frame.shape[1])]
        self._numeric = [
            pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in frame.dtypes
        ]
        self._rows = len(frame)
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._names)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        missing = bool(self._missing[col][row])
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if missing else _format(self._values[col][row])
        if role == Qt.ItemDataRole.ToolTipRole and missing:
            return "missing"
        if role == Qt.ItemDataRole.BackgroundRole and missing:
            return QColor(128, 128, 128, 40)
        if role == Qt.ItemDataRole.TextAlignmentRole and self._numeric[col]:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._names):
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{self._names[section]}\n{self._dtypes[section]}"
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{self._names[section]}: {self._dtypes[section]}"
        if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return str(section)
        return None

    def columns(self) -> list[tuple[str, str]]:
        return list(zip(self._names, self._dtypes, strict=True))

    def cell(self, row: int, column: int) -> str:
        """The text a cell shows (tests)."""
        return str(self.data(self.index(row, column)))


class PreviewWidget(QWidget):
    """A node's preview from a run's preview folder; see the module docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PreviewModel(self)
        self._dir: Path | None = None
        self._manifest: dict[str, Any] | None = None
        self.node: str | None = None
        self.row_count: int | None = None
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.types = QLabel()
        self.types.setWordWrap(True)
        self.types.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 6)
        self.view.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.types)
        layout.addWidget(self.view, 1)
        self.clear("Run the project to see each node's first rows here.")

    @property
    def message(self) -> str:
        return self.title.text()

    @property
    def columns(self) -> list[tuple[str, str]]:
        return self.model.columns()

    def set_preview_dir(self, path: str | Path | None) -> None:
        self._dir = Path(path) if path is not None else None
        self._manifest = read_manifest(self._dir) if self._dir is not None else None
        if self.node is not None and self._manifest is not None:
            self.show_node(self.node)
        else:
            self.clear("Select a node to see its first rows." if self._manifest else "No previews yet.")

    @Slot(str)
    def show_node(self, node_id: str, port: str | None = None) -> None:
        self.node = node_id
        if self._manifest is None:
            self.clear("No previews yet: run the project (F5).", keep_node=True)
            return
        previews = self._manifest.get("previews", {})
        key = f"{node_id}.{port}" if port else node_id
        entry = previews.get(key) or next(
            (
                e
                for e in previews.values()
                if e.get("node") == node_id and (port is None or e.get("port") == port)
            ),
            None,
        )
        if entry is None:
            failed = self._manifest.get("status") == "failed"
            why = "the run failed before it finished" if failed else "it has no output (a sink)"
            self.clear(f"{node_id}: no preview ({why}).", keep_node=True)
            return
        assert self._dir is not None
        try:
            frame = pd.read_parquet(self._dir / entry["file"])
        except (OSError, ValueError) as exc:
            self.clear(f"{node_id}: cannot read the preview ({exc}).", keep_node=True)
            return
        self.model.set_frame(frame)
        self.row_count = int(entry.get("rows", len(frame)))
        shown = len(frame)
        more = f", first {shown:,} shown" if shown < self.row_count else ""
        self.title.setText(f"{node_id}: {self.row_count:,} rows{more}, {frame.shape[1]} columns")
        self.types.setText("  ·  ".join(f"{n} <i>{t}</i>" for n, t in self.model.columns()))
        self.types.setVisible(True)
        self.view.resizeColumnsToContents()

    def clear(self, message: str = "", keep_node: bool = False) -> None:
        if not keep_node:
            self.node = None
        self.row_count = None
        self.model.set_frame(None)
        self.title.setText(message)
        self.types.setText("")
        self.types.setVisible(False)
