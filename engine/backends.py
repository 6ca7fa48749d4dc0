"""Where partition work runs: this process, joblib threads, or joblib loky processes.

All backends return results in the order of their inputs, so the executor combines partials in
partition order and outputs are identical whatever the backend or worker count.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from .machine import available_cores  # re-exported: `workers: auto` and older imports

BACKENDS = ("auto", "sequential", "threads", "processes", "dask")


class WorkerLost(Exception):
    """A worker process died (killed, out of memory) while it ran the task at `index`."""

    def __init__(self, index: int, cause: str) -> None:
        super().__init__(index, cause)
        self.index, self.cause = index, cause


class Backend(Protocol):
    name: str
    workers: int

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Results in input order, each as soon as it and those before it are done."""
        ...

    def close(self) -> None: ...

    def choose(self, gil: bool) -> Backend:
        """The pool for a stage: `auto` sends stages that hold the GIL to processes."""
        ...


class Sequential:
    """Everything in this process, one partition at a time: the reference for the others."""

    name = "sequential"
    workers = 1

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return (fn(item) for item in items)

    def close(self) -> None:
        pass

    def choose(self, gil: bool) -> Backend:
        return self


class Joblib:
    """One joblib pool for the whole run: threads (`threading`) or processes (`loky`)."""

    def __init__(self, name: str, workers: int) -> None:
        import warnings

        from joblib import Parallel

        # joblib warns when a stopped run leaves results unused: a cancelled run, by design
        warnings.filterwarnings("ignore", message=r".*tasks have been successfully executed", module="joblib")
        self.name, self.workers = name, workers
        backend = "threading" if name == "threads" else "loky"
        self._parallel = Parallel(n_jobs=workers, backend=backend, return_as="generator")
        self._parallel.__enter__()

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Items are taken lazily, a few per worker ahead (joblib's pre-dispatch): a source
        streams through without being read whole. A single item runs here, with no pickling."""
        from joblib import delayed

        items = iter(items)
        head = list(itertools.islice(items, 2))
        if len(head) <= 1:
            return (fn(item) for item in head)
        tasks = (delayed(fn)(item) for item in itertools.chain(head, items))
        return _reporting_lost_workers(self._parallel(tasks))

    def close(self) -> None:
        self._parallel.__exit__(None, None, None)

    def choose(self, gil: bool) -> Backend:
        return self


class Auto:
    """Threads for stages whose work releases the GIL (pandas, NumPy, pyarrow: every built-in
    step), loky processes, started on first need, for stages that run Python per row."""

    name = "auto"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.threads = Joblib("threads", workers)
        self._processes: Joblib | None = None

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self.threads.imap(fn, items)

    def choose(self, gil: bool) -> Backend:
        if not gil:
            return self.threads
        if self._processes is None:
            self._processes = Joblib("processes", self.workers)
        return self._processes

    def close(self) -> None:
        self.threads.close()
        if self._processes is not None:
            self._processes.close()


def _reporting_lost_workers(results: Iterator[Any]) -> Iterator[Any]:
    """loky's TerminatedWorkerError as WorkerLost, with the index of the first unfinished task."""
    index = 0
    try:
        for result in results:
            yield result
            index += 1
    except Exception as exc:
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        if isinstance(exc, TerminatedWorkerError):
            raise WorkerLost(index, str(exc)) from exc
        raise


def make_backend(name: str, workers: int | str | None) -> Backend:
    """The backend for a run. `auto` chooses per stage: threads where the work releases the GIL
    (they cost nothing to start or to send partitions to), processes where it does not."""
    count = available_cores() if workers in (None, "auto") else int(workers)
    if name == "sequential" or (count == 1 and name == "auto"):
        return Sequential()
    if name == "auto":
        return Auto(count)
    if name == "threads":
        return Joblib("threads", count)
    if name == "processes":
        return Joblib("processes", count)
    raise ValueError(f"unknown backend '{name}'")
