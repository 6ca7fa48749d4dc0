"""Problems a user can fix: every one names where it is (file, line, node, param)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem found in a project, before or while running it."""

    message: str
    node: str | None = None
    param: str | None = None
    line: int | None = None
    severity: Severity = "error"

    def where(self) -> str:
        parts = []
        if self.node is not None:
            parts.append(f"node '{self.node}'")
        if self.param is not None:
            parts.append(f"param '{self.param}'")
        return ", ".join(parts)

    def format(self, source: str | None = None) -> str:
        """One line: `file:line: error: node 'x', param 'y': message`."""
        head = source or ""
        if self.line is not None:
            head = f"{head}:{self.line}" if head else f"line {self.line}"
        where = self.where()
        text = f"{self.severity}: {where}: {self.message}" if where else f"{self.severity}: {self.message}"
        return f"{head}: {text}" if head else text

    def at_line(self, line: int | None) -> Issue:
        return replace(self, line=line) if line is not None and self.line is None else self

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def errors(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]


class GraphmillError(Exception):
    """Base of the errors a user can act on; the CLI prints them without a traceback."""

    exit_code = 1


class ProjectError(GraphmillError):
    """A project that cannot run as written (exit code 2), with every problem found."""

    exit_code = 2

    def __init__(self, issues: Sequence[Issue], source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        super().__init__("\n".join(i.format(source) for i in self.issues))


class UsageError(GraphmillError):
    """A bad command line (exit code 2)."""

    exit_code = 2


class DataError(GraphmillError):
    """A problem in the data found while running (exit code 1): names the column and line."""

    exit_code = 1

    def __init__(
        self, message: str, *, node: str | None = None, column: str | None = None, line: int | None = None
    ) -> None:
        self.message, self.node, self.column, self.line = message, node, column, line
        super().__init__(message)

    def __reduce__(self) -> Any:  # keeps node, column and line across process workers
        return (_data_error, (self.message, self.node, self.column, self.line))

    def __str__(self) -> str:
        where = [f"node '{self.node}'"] if self.node else []
        where += [f"column '{self.column}'"] if self.column else []
        where += [f"line {self.line}"] if self.line is not None else []
        return f"{', '.join(where)}: {self.message}" if where else self.message


def _data_error(message: str, node: str | None, column: str | None, line: int | None) -> DataError:
    return DataError(message, node=node, column=column, line=line)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so every temporary file is removed on the way out."""


def interruption(exc: BaseException) -> KeyboardInterrupt | Terminated | None:
    """The stop request `exc` was raised while handling, if any.

    A signal can land inside a library's own clean-up: loky starting a worker process, hit by
    SIGINT, raises `UnboundLocalError` or "cannot join thread before it is started" from its
    `finally`, and the KeyboardInterrupt survives only as that error's context. Such a run was
    stopped, not failed."""
    seen: set[int] = set()
    chain: list[BaseException | None] = [exc]
    while chain:
        e = chain.pop()
        if e is None or id(e) in seen:
            continue
        if isinstance(e, (KeyboardInterrupt, Terminated)):
            return e
        seen.add(id(e))
        chain += [e.__cause__, e.__context__]
    return None
