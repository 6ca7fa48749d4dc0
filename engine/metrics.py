"""A sampler thread: rows/s per node, CPU and memory of the whole process tree (psutil)."""

from __future__ import annotations

import threading
import time
from typing import Any

from .events import Handler, Metrics

INTERVAL = 0.25  # seconds between samples


class MetricsSampler:
    """Emits a Metrics event every `interval` seconds while a run is going on."""

    def __init__(self, emit: Handler, rows: dict[str, int], interval: float = INTERVAL) -> None:
        import psutil

        self.emit, self.rows, self.interval = emit, rows, interval
        self._root = psutil.Process()
        self._procs: dict[int, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="graphmill-metrics", daemon=True)
        self._last_rows: dict[str, int] = {}
        self._last_time = time.perf_counter()

    def start(self) -> None:
        self._cpu_and_memory()  # the first cpu_percent call of a process only sets its baseline
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.emit(self.sample())

    def sample(self) -> Metrics:
        now = time.perf_counter()
        elapsed = max(now - self._last_time, 1e-9)
        rows = dict(self.rows)
        rates = {n: round((r - self._last_rows.get(n, 0)) / elapsed, 1) for n, r in rows.items()}
        self._last_rows, self._last_time = rows, now
        cpu, memory, kind = self._cpu_and_memory()
        return Metrics(
            rows_per_second=rates, rows=rows, cpu_percent=round(cpu, 1), memory_bytes=memory, memory_kind=kind
        )

    def _cpu_and_memory(self) -> tuple[float, int, str]:
        import psutil

        try:
            tree = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            tree = [self._root]
        cpu, memory, kind = 0.0, 0, "pss"
        alive = {}
        for proc in tree:
            proc = self._procs.get(proc.pid, proc)  # keep the object: cpu_percent is a delta
            try:
                cpu += proc.cpu_percent(None)
                try:
                    memory += proc.memory_full_info().pss
                except (psutil.AccessDenied, AttributeError):
                    memory += proc.memory_info().rss
                    kind = "rss"
                alive[proc.pid] = proc
            except psutil.Error:
                continue
        self._procs = alive
        return cpu, memory, kind
