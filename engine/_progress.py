"""Terminal progress for `graphmill run`: one line per node, on stderr (rich)."""

from __future__ import annotations

import sys
from typing import Any


class TerminalProgress:
    """Shows each node as it starts and finishes; a live spinner when stderr is a terminal."""

    def __init__(self, quiet: bool = False) -> None:
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
        self._status: Any = None

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if self.quiet:
            return
        if kind == "node_started" and self.console.is_terminal:
            self._stop()
            self._status = self.console.status(f"{data['node']} ({data['type']}) running...")
            self._status.start()
        elif kind == "warning":
            self._stop()
            self.console.print(f"[yellow]{data['message']}[/yellow]")
        elif kind == "node_finished":
            self._stop()
            rows = f"{data['rows_in']:,} rows in, {data['rows_out']:,} out"
            self.console.print(
                f"[green]done[/green] {data['node']}: {rows}, {data['partitions']} partitions, {data['seconds']:.2f} s"
            )

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        self._stop()
