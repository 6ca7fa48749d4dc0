"""The QApplication and the main window: assembly of the designer's parts, nothing else.

`graphmill gui [PROJECT]` (and a bare `graphmill`) start here through app/command.py, the
entry point `graphmill.commands: gui = app.command:register`. The run side (app/runcontrol.py)
plugs in through `run_action` / `stop_action` and `add_dock`.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QSettings, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QWidget,
)

from engine.bundled import bundled_dir
from engine.errors import GraphmillError
from engine.projectfile import SUFFIX
from engine.registry import Registry

from .autosave import INTERVAL_MS, Autosaver, pending_recovery
from .canvas import Canvas
from .document import Document
from .palette import Palette
from .properties import PropertiesPanel
from .runcontrol import RunControl

APP_NAME = "Graphmill"
FILE_FILTER = f"Graphmill projects (*{SUFFIX});;JSON files (*.json);;All files (*)"
MAX_RECENT = 8


class MainWindow(QMainWindow):
    """Canvas in the middle, palette on the left, properties on the right; menus and toolbar."""

    def __init__(
        self,
        registry: Registry,
        *,
        recovery_dir: Path | None = None,
        autosave_ms: int = INTERVAL_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = Document(registry, self)
        self.canvas = Canvas(self.document)
        self.palette = Palette(self.document)
        self.properties = PropertiesPanel(self.document)
        self.autosaver = Autosaver(self.document, autosave_ms, recovery_dir, self)
        self.setCentralWidget(self.canvas)
        left = self.add_dock(self.palette, "Nodes", Qt.DockWidgetArea.LeftDockWidgetArea)
        right = self.add_dock(self.properties, "Properties", Qt.DockWidgetArea.RightDockWidgetArea)
        self._make_actions()
        self.run_control = RunControl(self)
        self.resizeDocks([left, right], [230, 440], Qt.Orientation.Horizontal)
        self._make_menus()
        self.canvas.message.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.canvas.selection_changed.connect(self._on_selection_changed)
        self.palette.activated.connect(self.canvas.add_node)
        for sig in (
            self.document.modified_changed,
            self.document.path_changed,
            self.document.project_changed,
            self.document.reset,
        ):
            sig.connect(self.update_title)
        self.resize(1400, 860)
        self.update_title()

    # ------------------------------------------------------------------ hooks for the run side

    def add_dock(
        self, widget: QWidget, title: str, area: Qt.DockWidgetArea = Qt.DockWidgetArea.BottomDockWidgetArea
    ) -> QDockWidget:
        """Add a panel as a dock (the run side adds its log, charts and preview this way)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if hasattr(self, "view_menu"):
            self.view_menu.addAction(dock.toggleViewAction())
        return dock

    # ------------------------------------------------------------------ actions and menus

    def _action(self, text: str, slot: Any = None, shortcut: Any = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        if tip:
            action.setStatusTip(tip)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work wherever the focus is in the window
        return action

    def _make_actions(self) -> None:
        self.new_action = self._action("&New", self.new_project, QKeySequence.StandardKey.New)
        self.open_action = self._action("&Open…", self.open_dialog, "Ctrl+O")
        self.save_action = self._action("&Save", self.save, "Ctrl+S")
        self.save_as_action = self._action("Save &As…", self.save_as, "Ctrl+Shift+S")
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")
        stack = self.document.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addActions([self.undo_action, self.redo_action])
        self.copy_action = self._action("&Copy", self.canvas.copy_selected, "Ctrl+C")
        self.paste_action = self._action("&Paste", self.canvas.paste, "Ctrl+V")
        self.delete_action = self._action(
            "&Delete", self.canvas.delete_selected, [QKeySequence.StandardKey.Delete, "Backspace"]
        )
        self.select_all_action = self._action("Select &All", self.canvas.select_all, "Ctrl+A")
        self.auto_layout_action = self._action("Auto &Layout", self.document.auto_layout, "Ctrl+L")
        self.backdrop_action = self._action("Add &Backdrop", lambda: self.canvas.add_backdrop(), "Ctrl+B")
        self.zoom_fit_action = self._action("&Zoom to Fit", self.canvas.zoom_to_fit, "Ctrl+0")
        self.add_node_action = self._action("Add &Node…", self.canvas.tab_search)
        self.run_action = self._action("&Run", shortcut="F5", tip="Run the project")
        self.stop_action = self._action("&Stop", shortcut="Shift+F5", tip="Stop the run")
        self.run_action.setEnabled(False)  # enabled by the run side (app/runcontrol.py)
        self.stop_action.setEnabled(False)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = QMenu("Open &Recent", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addActions(
            [self.copy_action, self.paste_action, self.delete_action, self.select_all_action]
        )
        edit_menu.addSeparator()
        edit_menu.addActions([self.add_node_action, self.auto_layout_action, self.backdrop_action])
        self.view_menu = bar.addMenu("&View")
        self.view_menu.addAction(self.zoom_fit_action)
        self.view_menu.addSeparator()
        for dock in self.findChildren(QDockWidget):
            self.view_menu.addAction(dock.toggleViewAction())
        run_menu = bar.addMenu("&Run")
        run_menu.addActions([self.run_action, self.stop_action])
        tools = self.addToolBar("Main")
        tools.setObjectName("toolbar_main")
        tools.addActions([self.new_action, self.open_action, self.save_action])
        tools.addSeparator()
        tools.addActions([self.undo_action, self.redo_action])
        tools.addSeparator()
        tools.addActions([self.auto_layout_action, self.zoom_fit_action])
        tools.addSeparator()
        tools.addActions([self.run_action, self.stop_action])
        self.canvas.context_menu().addActions(
            [self.add_node_action, self.paste_action, self.select_all_action, self.auto_layout_action]
        )
        self.canvas.context_menu().addActions([self.backdrop_action, self.zoom_fit_action])
        self._fill_recent()

    # ------------------------------------------------------------------ title, selection

    @Slot()
    def update_title(self, *_args: Any) -> None:
        star = "*" if self.document.modified else ""
        self.setWindowTitle(f"{APP_NAME} - {self.document.title}{star}")

    @Slot()
    def _on_selection_changed(self) -> None:
        ids = self.canvas.selected_ids()
        if (ids[0] if ids else None) != self.properties.node_id:
            self.properties.show_node(ids[0] if ids else None)

    # ------------------------------------------------------------------ files

    def maybe_save(self) -> bool:
        """Ask before unsaved changes are lost: Save, Discard or Cancel; True to go on."""
        if not self.document.modified:
            return True
        answer = QMessageBox.question(
            self,
            APP_NAME,
            f"Save the changes to '{self.document.title}'?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_project(self) -> None:
        if self.maybe_save():
            self.document.new()

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        start = str(self.document.path.parent) if self.document.path else str(Path.cwd())
        name, _ = QFileDialog.getOpenFileName(self, "Open project", start, FILE_FILTER)
        if name:
            self.open_path(name, ask=False)

    def open_path(self, path: str | Path, *, ask: bool = True) -> bool:
        """Open a project file (asking about unsaved changes first unless `ask` is False)."""
        if ask and not self.maybe_save():
            return False
        try:
            self.document.open(path)
        except (GraphmillError, OSError) as exc:
            QMessageBox.critical(self, APP_NAME, f"Cannot open {path}:\n{exc}")
            return False
        self._remember(Path(path))
        missing = self.document.run_blocked_reason()
        if missing:
            self.statusBar().showMessage(missing, 20_000)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        start = str(self.document.path or Path.cwd() / f"{self.document.title}{SUFFIX}")
        name, _ = QFileDialog.getSaveFileName(self, "Save project as", start, FILE_FILTER)
        if not name:
            return False
        path = Path(name)
        if not path.name.endswith(".json"):
            path = path.with_name(path.name + SUFFIX)
        return self._save_to(path)

    def _save_to(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except OSError as exc:
            QMessageBox.critical(self, APP_NAME, f"Cannot save {path}:\n{exc}")
            return False
        self._remember(path)
        self.statusBar().showMessage(f"Saved {path}", 5_000)
        return True

    def recent_files(self) -> list[str]:
        value = QSettings().value("recent_files", [])
        return [str(v) for v in (value if isinstance(value, list) else [value] if value else [])]

    def _remember(self, path: Path) -> None:
        text = str(path.resolve())
        files = [text, *[f for f in self.recent_files() if f != text]][:MAX_RECENT]
        QSettings().setValue("recent_files", files)
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for name in self.recent_files():
            action = self.recent_menu.addAction(name)
            action.triggered.connect(lambda _checked=False, n=name: self.open_path(n))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    def offer_recovery(self) -> bool:
        """On start: restore an autosave left by a crash, if the person wants it."""
        found = pending_recovery(self.autosaver.directory)
        if found is None:
            return False
        where = f" of {found.path}" if found.path else ""
        answer = QMessageBox.question(
            self,
            APP_NAME,
            f"Graphmill did not close cleanly. Restore the unsaved changes{where}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard,
            QMessageBox.StandardButton.Yes,
        )
        if answer == QMessageBox.StandardButton.Yes:
            found.restore(self.document)
            return True
        found.discard()
        return False

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.run_control.shutdown()
        self.autosaver.stop()  # a clean exit leaves nothing to recover
        event.accept()


def application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the designer's names and icon; `graphmill gui` and its self-test
    share it. The desktop file name lets Wayland shells match windows to graphmill.desktop."""
    app = cast(QApplication, QApplication.instance() or QApplication(argv or sys.argv[:1]))
    app.setApplicationName("graphmill")
    app.setOrganizationName("Graphmill")
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName("graphmill")
    with contextlib.suppress(FileNotFoundError):
        app.setWindowIcon(QIcon(str(bundled_dir() / "icons" / "graphmill.svg")))
    return app


def run(
    project: str | Path | None = None, registry: Registry | None = None, argv: list[str] | None = None
) -> int:
    """Start the designer; returns the application's exit code."""
    from engine.registry import default_registry

    app = application(argv)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl+C in the terminal closes the window
    window = MainWindow(registry or default_registry())
    window.show()
    if not window.offer_recovery() and project is not None:
        window.open_path(project)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else None))
