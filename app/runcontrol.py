"""The run side of the main window: F5 / Shift+F5, node states on the canvas, docks.

Ties the Runner (a child `graphmill run --events jsonl`) to the document and the canvas: a run
takes the document's current state (the saved file when nothing is unsaved, else a temporary copy
with `--base-dir` set to the project's folder), each node's state and progress shows on its node,
the run panel draws the charts, the preview dock shows the selected node's output after a run, and
the resources panel edits the project's `resources` through the undo stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QDockWidget, QMessageBox

from .preview import PreviewWidget
from .resources_panel import ResourcesPanel
from .runner import Runner, RunSummary
from .runpanel import RunPanel

if TYPE_CHECKING:
    from .main import MainWindow


class RunControl(QObject):
    """Owns the runner and the run-side panels of one main window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.document, self.canvas = window.document, window.canvas
        self.runner = Runner(self)
        self.panel = RunPanel()
        self.panel.attach(self.runner)
        self.preview = PreviewWidget()
        self.resources = ResourcesPanel()
        bottom, right = Qt.DockWidgetArea.BottomDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        run_dock = window.add_dock(self.panel, "Run", bottom)
        # the selected node's data under its properties; the resources in a tab beside those
        preview_dock = window.add_dock(self.preview, "Preview", right)
        resources_dock = window.add_dock(self.resources, "Resources", right)
        properties_dock = window.findChild(QDockWidget, "dock_properties")
        if properties_dock is not None:
            window.splitDockWidget(properties_dock, preview_dock, Qt.Orientation.Vertical)
            window.tabifyDockWidget(properties_dock, resources_dock)
            properties_dock.raise_()
        window.resizeDocks([run_dock], [400], Qt.Orientation.Vertical)

        window.run_action.triggered.connect(self.start)
        window.stop_action.triggered.connect(self.stop)
        window.run_action.setEnabled(True)
        self.runner.started.connect(self._started)
        self.runner.node_state.connect(self._node_state)
        self.runner.finished.connect(self._finished)
        self.panel.node_selected.connect(lambda node: self.canvas.select([node]))
        self.canvas.selection_changed.connect(self._show_preview)
        self.resources.changed.connect(self.document.set_resources)
        self.resources.base_dir = lambda: self.document.base_dir
        for sig in (self.document.reset, self.document.project_changed):
            sig.connect(self._load_resources)
        self._load_resources()

    @Slot()
    def start(self) -> None:
        """Run the project as it is now (F5); refused with the reason when it cannot run."""
        if self.runner.running:
            return
        reason = self.document.run_blocked_reason()
        if reason:
            self.window.statusBar().showMessage(f"Cannot run: {reason}", 20_000)
            QMessageBox.warning(self.window, "Graphmill", f"This project cannot run:\n{reason}")
            return
        nodes = [n.id for n in self.document.project.nodes]
        self.canvas.clear_node_states()
        for node in nodes:
            self.canvas.set_node_state(node, "waiting", "")
        self.panel.reset(nodes)
        self.preview.clear("running…")
        self.window.run_action.setEnabled(False)
        self.window.stop_action.setEnabled(True)
        path = self.document.path
        if path is not None and not self.document.modified:
            self.runner.run_file(path, base_dir=self.document.base_dir)
        else:
            self.runner.run_project(self.document.project, self.document.base_dir)

    @Slot()
    def stop(self) -> None:
        self.runner.stop()

    def shutdown(self) -> None:
        """On close: end a run still going (no output is written) and drop the previews."""
        if self.runner.running:
            self.runner.stop()
            self.runner.wait(int((self.runner.grace_s + 2) * 1000))
        self.runner.cleanup()

    @Slot()
    def _started(self) -> None:
        self.window.statusBar().showMessage("Running…")

    @Slot(str, str, str)
    def _node_state(self, node: str, state: str, text: str) -> None:
        self.canvas.set_node_state(node, state, text)

    @Slot(int, object)
    def _finished(self, code: int, summary: RunSummary) -> None:
        self.window.run_action.setEnabled(True)
        self.window.stop_action.setEnabled(False)
        self.window.statusBar().showMessage(self.panel.summary_text(), 30_000)
        self.preview.set_preview_dir(self.runner.preview_dir)
        self._show_preview()

    @Slot()
    def _show_preview(self) -> None:
        ids = self.canvas.selected_ids()
        if self.runner.preview_dir is None or self.runner.running:
            return
        if ids:
            self.preview.show_node(ids[0])
        else:
            self.preview.clear("select a node to see its output")

    @Slot()
    def _load_resources(self, *_args: Any) -> None:
        if self.resources.resources() != self.document.project.resources:
            self.resources.set_resources(self.document.project.resources)
