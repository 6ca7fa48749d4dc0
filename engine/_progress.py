"""Terminal progress for `graphmill run`: one line per node, on stderr (rich)."""

from __future__ import annotations

import sys
from typing import Any

from .events import Event, NodeFinished, NodeStarted, RunStarted, WarningIssued


class TerminalProgress:
    """Shows each node as it starts and finishes; a live spinner when stderr is a terminal."""

    def __init__(self, quiet: bool = False) -> None:
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
        self._status: Any = None

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, RunStarted):
            workers = f"{event.workers} worker" + ("s" if event.workers != 1 else "")
            self.console.print(f"[dim]backend {event.backend}, {workers}, device {event.device}[/dim]")
        elif isinstance(event, NodeStarted) and self.console.is_terminal:
            self._stop()
            self._status = self.console.status(f"{event.node} ({event.type}) running...")
            self._status.start()
        elif isinstance(event, WarningIssued):
            self._stop()
            self.console.print(f"[yellow]{event.message}[/yellow]")
        elif isinstance(event, NodeFinished):
            self._stop()
            rows = f"{event.rows_in:,} rows in, {event.rows_out:,} out"
            self.console.print(
                f"[green]done[/green] {event.node}: {rows}, {event.partitions} partitions, {event.seconds:.2f} s"
            )

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        self._stop()
