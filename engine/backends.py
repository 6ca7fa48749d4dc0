"""Where partition work runs: this process, joblib threads, joblib loky processes, or a Dask
cluster.

All backends return results in the order of their inputs, so the executor combines partials in
partition order and outputs are identical whatever the backend or worker count.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
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


class BackendUnavailable(Exception):
    """The backend cannot start (no `distributed`, no scheduler answering): a project error,
    found before any data is read. `param` is the resources key to blame."""

    def __init__(self, message: str, param: str = "resources.scheduler") -> None:
        super().__init__(message)
        self.param = param


CONNECT_TIMEOUT = 10.0  # seconds; lower with DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT
LARGE_ITEM_BYTES = 100_000  # items larger than this (held frames) are sent as their own task


class Dask:
    """Every stage's partitions as tasks on a dask.distributed cluster, through the client's own
    API: the stage's task is sent once, each item submitted with a bounded number in flight
    and results taken in input order, as the joblib backends stream. Sources hand out small
    descriptions (byte ranges, generator blocks), so workers read their own slices; the
    sources' files must be at the same paths on every worker. `local` starts a LocalCluster of
    single-threaded worker processes for the run and closes it after."""

    name = "dask"

    def __init__(self, scheduler: str, workers: int | None, tls: dict[str, str] | None = None) -> None:
        import logging

        distributed = _distributed()

        self._cluster: Any = None
        self.scheduler = scheduler
        security = _security(tls)
        if scheduler == "local":
            self._cluster = distributed.LocalCluster(
                n_workers=workers or available_cores(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                **({"security": security, "protocol": "tls://"} if security else {}),
            )
            address = self._cluster.scheduler_address
        else:
            address = scheduler
        try:
            self._client = connect(address, tls)
        except BackendUnavailable:
            self._close_cluster()
            raise
        threads = sum(self._client.nthreads().values())
        self.workers = threads or (workers or 1)
        # tasks queue on the scheduler until a worker connects: the run says so, then waits
        self.waiting_for_workers = threads == 0

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self._results(fn, iter(items))

    def _results(self, fn: Callable[[Any], Any], items: Iterator[Any]) -> Iterator[Any]:
        """Two tasks in flight per worker thread; futures left when the consumer stops (an
        error, a cancel) are cancelled, so the cluster does no work for a stopped run.

        The stage's task (it may carry a lookup table) and large items (held frames) go to the
        cluster once, as tasks that return them rather than by scatter: a scattered value is
        lost with its worker, a task's result is recomputed elsewhere."""
        from dask.sizeof import sizeof
        from distributed import KilledWorker

        client = self._client
        lost = (KilledWorker, CancelledError)
        task = _sent_once(client, fn, "graphmill-task")
        ahead = max(2, 2 * self.workers)
        window: deque[Any] = deque()
        index = 0
        try:
            for item in items:
                if _size(sizeof, item) > LARGE_ITEM_BYTES:
                    item = _sent_once(client, item, "graphmill-item")
                window.append(client.submit(_apply, task, item, key=_key("graphmill-partition")))
                if len(window) >= ahead:
                    yield _result(window.popleft(), index, lost, task)
                    index += 1
            while window:
                yield _result(window.popleft(), index, lost, task)
                index += 1
        finally:
            # after close() (an interrupted run drops this generator late) the client is gone,
            # and the scheduler has released its futures with it: nothing is left to cancel
            with contextlib.suppress(RuntimeError):
                if window:
                    client.cancel(list(window))
                task.release()

    def close(self) -> None:
        self._client.close()
        self._close_cluster()

    def _close_cluster(self) -> None:
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def choose(self, gil: bool) -> Backend:
        return self


def _size(sizeof: Callable[[Any], int], item: Any) -> int:
    """Bytes of an item: dask's sizeof, which sees only the shell of our Pieces (row-split
    slices of held frames), so those count their frames."""
    from .frames import Pieces

    return sum(sizeof(p) for p in item.parts) if isinstance(item, Pieces) else sizeof(item)


def connect(address: str, tls: dict[str, str] | None = None) -> Any:
    """A distributed.Client of the scheduler at `address`, or BackendUnavailable saying why
    (no answer within the connect timeout, a bad address, a refused TLS handshake)."""
    import logging

    distributed = _distributed()
    timeout = _connect_timeout()
    # the client logs connection retries at INFO/WARNING; the one-line error below says it all
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False, security=_security(tls))
    except (OSError, TimeoutError) as exc:
        raise BackendUnavailable(
            f"cannot reach the Dask scheduler at {address} (no answer within {timeout:g} s)"
        ) from exc
    except Exception as exc:
        raise BackendUnavailable(f"cannot use the Dask scheduler address {address!r}: {exc}") from exc


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise BackendUnavailable(
            "backend 'dask' needs dask.distributed, which is not installed: pip install 'graphmill[dask]'",
            "resources.backend",
        ) from exc
    return distributed


def _security(tls: dict[str, str] | None) -> Any:
    """Dask's TLS settings from resources.security's resolved paths (ca, cert, key), or None.
    Encryption is then required: a tls:// scheduler is never reached in the clear."""
    if not tls:
        return None
    from distributed.security import Security

    return Security(
        tls_ca_file=tls["ca"], tls_client_cert=tls["cert"], tls_client_key=tls["key"], require_encryption=True
    )


def _sent_once(client: Any, value: Any, prefix: str) -> Any:
    """A future of `value`, sent to the cluster once as a task that returns it (not scattered:
    a task's result is recomputed elsewhere when its worker dies)."""
    import warnings

    with warnings.catch_warnings():  # "Sending large graph": the data goes once, by design
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        return client.submit(_same, value, key=_key(prefix))


def _apply(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


def _same(value: Any) -> Any:
    return value


def _key(prefix: str) -> str:
    """Unique task keys whose prefix (the scheduler's per-prefix counts) names what they are."""
    return f"{prefix}-{uuid.uuid4().hex}"


def _result(future: Any, index: int, lost: tuple[type[BaseException], ...], task: Any) -> Any:
    """Workers that died more often than the scheduler's `allowed_failures` allows (or a task
    the scheduler gave up on) are WorkerLost, which the executor reports naming the stage. A
    stage's task that a worker could not even load cancels its partitions: its own error is
    the one to report."""
    try:
        return future.result()
    except lost as exc:
        if task.status == "error":
            _raise_missing_code(task.exception())
        raise WorkerLost(index, f"{type(exc).__name__}: {exc}") from exc
    except (ImportError, RuntimeError) as exc:
        _raise_missing_code(exc)


MISSING_CODE = (
    "the scheduler and every worker need the same Graphmill (pip install graphmill, no Qt "
    "needed) and the plugins the project uses"
)


def _raise_missing_code(exc: BaseException) -> None:
    """The cluster lacks code a task needs (a plugin, another version): a worker's ImportError,
    or the scheduler failing to deserialize the task graph (recent Dask deserializes it there)."""
    from .errors import DataError

    if isinstance(exc, ImportError):
        raise DataError(f"a Dask worker cannot import {exc.name or exc}: {MISSING_CODE}") from exc
    if isinstance(exc, RuntimeError) and "deserializ" in str(exc):
        raise DataError(f"the Dask cluster cannot load the task's code: {MISSING_CODE}") from exc
    raise exc


def _connect_timeout() -> float:
    import dask.config
    from dask.utils import parse_timedelta

    configured = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="s")
    return min(float(configured or CONNECT_TIMEOUT), CONNECT_TIMEOUT)


def make_backend(
    name: str, workers: int | str | None, scheduler: str | None = None, tls: dict[str, str] | None = None
) -> Backend:
    """The backend for a run. `auto` chooses per stage: threads where the work releases the GIL
    (they cost nothing to start or to send partitions to), processes where it does not. `tls`:
    resolved paths of resources.security for a Dask scheduler."""
    if name == "dask":
        return Dask(scheduler or "local", None if workers in (None, "auto") else int(workers), tls)
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
