"""What a Dask cluster offers: `graphmill resources --scheduler ADDR` and the designer's
resources panel. One short client connection; nothing runs on the workers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .machine import GIB

__all__ = ["Cluster", "ClusterWorker", "describe_cluster", "scheduler_resources"]


@dataclass(frozen=True)
class ClusterWorker:
    name: str
    address: str
    host: str
    threads: int
    memory_limit: int  # bytes; 0 when the worker has no limit


@dataclass(frozen=True)
class Cluster:
    scheduler: str
    workers: tuple[ClusterWorker, ...]

    @property
    def threads(self) -> int:
        return sum(w.threads for w in self.workers)

    @property
    def memory_limit(self) -> int:
        return sum(w.memory_limit for w in self.workers)


def scheduler_resources(address: str, tls: dict[str, str] | None = None) -> Cluster:
    """The scheduler's workers now; raises engine.backends.BackendUnavailable when it cannot be
    reached (the same message a run would give)."""
    from .backends import connect

    client = connect(address, tls)
    try:
        info: dict[str, Any] = client.scheduler_info()
    finally:
        client.close()
    workers = sorted(
        (
            ClusterWorker(
                name=str(w.get("name", key)),
                address=key,
                host=str(w.get("host", "")),
                threads=int(w.get("nthreads", 0)),
                memory_limit=int(w.get("memory_limit") or 0),
            )
            for key, w in info.get("workers", {}).items()
        ),
        key=lambda w: w.address,
    )
    return Cluster(str(info.get("address", address)), tuple(workers))


def describe_cluster(cluster: Cluster) -> list[str]:
    """The lines `graphmill resources --scheduler` prints."""
    count = len(cluster.workers)
    lines = [
        f"scheduler {cluster.scheduler}",
        f"workers   {count}, {cluster.threads} threads, {cluster.memory_limit / GIB:.1f} GiB memory limit in all",
    ]
    for w in cluster.workers:
        memory = f"{w.memory_limit / GIB:.1f} GiB" if w.memory_limit else "no memory limit"
        lines.append(f"  {w.name:<12} {w.address}  {w.threads} threads, {memory}")
    if not count:
        lines.append("  (no workers yet: a run waits for one; start `dask worker ADDRESS` on each machine)")
    return lines
