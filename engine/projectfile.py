"""Load and save `*.graphmill.json` files: version dispatch, migrations, atomic writes.

Loading goes text -> JSON (syntax errors with line and column) -> format check and format
migrations -> typed `Project` (every shape error, naming the node) -> node-type renames and params
migrations from the registry. Graph and param checks live in `engine.validate`, so a file with
such problems still opens in the designer and loses nothing.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .errors import Issue, ProjectError
from .models import FORMAT, Node, Project

if TYPE_CHECKING:
    from .registry import Registry

SUFFIX = ".graphmill.json"

FormatMigration = Callable[[dict[str, Any]], dict[str, Any]]
# Older format value -> function returning the raw JSON object in the next format. `graphmill/1`
# is the first format, so there is none yet; a `graphmill/2` reader adds {"graphmill/1": ...}.
FORMAT_MIGRATIONS: Mapping[str, FormatMigration] = {}


def load(
    path: str | os.PathLike[str],
    registry: Registry | None = None,
    *,
    format_migrations: Mapping[str, FormatMigration] | None = None,
) -> Project:
    """Read a project file; raises ProjectError naming the file, line and node."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError([Issue("no such project file")], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError([Issue(f"cannot read the project file: {exc}")], str(path)) from None
    return loads(text, registry, source=str(path), format_migrations=format_migrations)


def loads(
    text: str,
    registry: Registry | None = None,
    *,
    source: str | None = None,
    format_migrations: Mapping[str, FormatMigration] | None = None,
) -> Project:
    """Parse project JSON text (see `load`)."""
    raw = _parse_json(text, source)
    raw = _migrate_format(raw, FORMAT_MIGRATIONS if format_migrations is None else format_migrations, source)
    try:
        project = Project.model_validate(raw)
    except ValidationError as exc:
        issues = _translate(exc, raw)
        raise ProjectError(with_lines(issues, text), source) from None
    if registry is not None:
        project = _upgrade_nodes(project, registry, text, source)
    return project


def dumps(project: Project) -> str:
    """Canonical text: 2-space indent, fixed key order, UTF-8, trailing newline."""
    return json.dumps(project.to_json(), indent=2, ensure_ascii=False) + "\n"


def save(project: Project, path: str | os.PathLike[str]) -> None:
    """Write atomically: a failed save never truncates the existing file."""
    write_atomic(Path(path), dumps(project).encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it."""
    tmp = write_beside(path, lambda tmp: tmp.write_bytes(data))
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_beside(path: Path, write: Callable[[Path], None]) -> Path:
    """A finished temporary file next to `path`, ready to be renamed over it.

    `write` fills it; the file is then synced to disk and gets the mode `path` has (or the
    umask's default), so the rename changes content only. Project saves and sink outputs
    (which rename all their files together at the end of a run) both go through here.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".graphmill-tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def resolve_path(base_dir: str | os.PathLike[str], path: str) -> Path:
    """Relative paths in a project resolve against its base directory, never the cwd."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(base_dir) / p


def node_lines(text: str) -> dict[str, int]:
    """Line of each node's `"id": "..."` in the file text, for messages that point at it."""
    lines: dict[str, int] = {}
    for m in re.finditer(r'"id"\s*:\s*"([A-Za-z_][A-Za-z0-9_-]*)"', text):
        lines.setdefault(m.group(1), text.count("\n", 0, m.start()) + 1)
    return lines


def with_lines(issues: list[Issue], text: str) -> list[Issue]:
    """Fill in the line of every issue that names a node."""
    lines = node_lines(text)
    return [i.at_line(lines.get(i.node)) if i.node else i for i in issues]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _parse_json(text: str, source: str | None) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _DuplicateKey(key)
            out[key] = value
        return out

    try:
        raw = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        issue = Issue(f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)
        raise ProjectError([issue], source) from None
    except _DuplicateKey as exc:
        raise ProjectError(
            [Issue(f"invalid JSON: the key '{exc.args[0]}' appears twice in one object")], source
        ) from None
    if not isinstance(raw, dict):
        raise ProjectError([Issue("not a Graphmill project: the file is not a JSON object")], source)
    return raw


class _DuplicateKey(Exception):
    pass


def _migrate_format(
    raw: dict[str, Any], migrations: Mapping[str, FormatMigration], source: str | None
) -> dict[str, Any]:
    seen: set[str] = set()
    while True:
        fmt = raw.get("format")
        if fmt == FORMAT:
            return raw
        if fmt in migrations and fmt not in seen:
            seen.add(fmt)
            raw = migrations[fmt](raw)
            continue
        if fmt is None:
            msg = f"not a Graphmill project: no 'format' key (expected \"{FORMAT}\")"
        elif isinstance(fmt, str) and _is_newer(fmt):
            msg = (
                f"this file has format '{fmt}', written by a newer Graphmill; this version reads "
                f"'{FORMAT}': please upgrade Graphmill"
            )
        else:
            msg = f"unknown format {fmt!r}; this version of Graphmill reads '{FORMAT}'"
        raise ProjectError([Issue(msg, param="format")], source)


def _is_newer(fmt: str) -> bool:
    m = re.fullmatch(r"graphmill/(\d+)", fmt)
    return bool(m) and int(m.group(1)) > int(FORMAT.split("/")[1])


_NEWER_HINT = " (a key from a newer Graphmill? then please upgrade)"


def _translate(exc: ValidationError, raw: dict[str, Any]) -> list[Issue]:
    """Turn pydantic's errors into Issues that name the node (or edge) and key."""
    issues: list[Issue] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors():
        loc = tuple(err["loc"])
        if loc in seen:
            continue
        seen.add(loc)
        msg = err["msg"].removeprefix("Value error, ")
        extra = err["type"] == "extra_forbidden"
        node = param = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            node = _node_label(raw, loc[1])
            rest = [str(p) for p in loc[2:]]
            if extra:
                msg = f"unknown key '{rest[-1]}' in the node{_NEWER_HINT}"
                rest = rest[:-1]
            param = ".".join(rest) or None
            if param == "params":
                msg = f"params must be a JSON object, not {_kind(err['input'])}"
        elif len(loc) >= 2 and loc[0] == "edges" and isinstance(loc[1], int):
            label = _edge_label(raw, loc[1])
            key = ".".join(str(p) for p in loc[2:])
            if extra:
                msg = f"unknown key '{key}' in {label}{_NEWER_HINT}"
            else:
                msg = f"{label}{f' key {key!r}' if key else ''}: {msg}"
        else:
            key = ".".join(str(p) for p in loc)
            if extra:
                msg = f"unknown key '{key}'{_NEWER_HINT}"
            else:
                param = key or None
        issues.append(Issue(msg, node=node, param=param))
    return issues


def _node_label(raw: dict[str, Any], index: int) -> str:
    node = raw.get("nodes", [])[index]
    if isinstance(node, dict) and isinstance(node.get("id"), str):
        return node["id"]
    return f"#{index + 1}"


def _edge_label(raw: dict[str, Any], index: int) -> str:
    edge = raw.get("edges", [])[index]
    if isinstance(edge, dict):
        return f"edge #{index + 1} ({edge.get('from')} -> {edge.get('to')})"
    return f"edge #{index + 1}"


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _upgrade_nodes(project: Project, registry: Registry, text: str, source: str | None) -> Project:
    """Rename legacy node types and migrate params saved by an older node-type version."""
    issues: list[Issue] = []
    nodes: list[Node] = []
    for node in project.nodes:
        spec = registry.find(node.type)
        if spec is None:
            nodes.append(node)
            continue
        try:
            nodes.append(spec.upgrade(node))
        except ProjectError as exc:
            issues.extend(exc.issues)
    if issues:
        raise ProjectError(with_lines(issues, text), source)
    return project.model_copy(update={"nodes": nodes})
