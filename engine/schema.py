"""Schemas (column names and types) of every port, inferred without reading data.

Sources give their columns from a CSV header or Parquet metadata (and `dtypes`); every other node
type computes its output schema from its inputs with its spec's schema function. A schema of
`None` means "unknown"; a column type of `None` means "a column whose type is unknown".
Validation uses the schemas to report unknown columns; the designer offers them in its editors.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Issue
from .graph import topological_order
from .projectfile import resolve_path

if TYPE_CHECKING:
    from .models import Project
    from .registry import NodeSpec, Registry

DTYPES = ("int64", "float64", "string", "bool", "datetime", "category")


@dataclass(frozen=True)
class Schema:
    """An ordered list of (column name, dtype or None)."""

    columns: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def of(cls, columns: Mapping[str, str | None] | Iterable[tuple[str, str | None]]) -> Schema:
        items = columns.items() if isinstance(columns, Mapping) else columns
        return cls(tuple((str(name), dtype) for name, dtype in items))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def as_dict(self) -> dict[str, str | None]:
        return dict(self.columns)

    def dtype(self, name: str) -> str | None:
        return self.as_dict().get(name)

    def __contains__(self, name: object) -> bool:
        return any(name == n for n, _ in self.columns)

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def with_column(self, name: str, dtype: str | None) -> Schema:
        """Replace a column in place, or add it at the end (FORMAT.md `columns`)."""
        if name in self:
            return Schema(tuple((n, dtype if n == name else t) for n, t in self.columns))
        return Schema((*self.columns, (name, dtype)))

    def select(self, names: Iterable[str]) -> Schema:
        types = self.as_dict()
        return Schema(tuple((n, types.get(n)) for n in names))

    def drop(self, names: Iterable[str]) -> Schema:
        gone = set(names)
        return Schema(tuple((n, t) for n, t in self.columns if n not in gone))

    def rename(self, mapping: Mapping[str, str]) -> Schema:
        return Schema(tuple((mapping.get(n, n), t) for n, t in self.columns))

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": n, "dtype": t} for n, t in self.columns]


def suggest(name: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` or an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass
class SchemaContext:
    """What a node spec's schema function gets: its params, input schemas and an issue sink."""

    node: str
    params: dict[str, Any]
    inputs: dict[str, Schema | None]
    base_dir: Path
    issues: list[Issue] = field(default_factory=list)

    def input(self, port: str = "in") -> Schema | None:
        return self.inputs.get(port)

    def error(self, param: str | None, message: str) -> None:
        self.issues.append(Issue(message, node=self.node, param=param))

    def warning(self, param: str | None, message: str) -> None:
        self.issues.append(Issue(message, node=self.node, param=param, severity="warning"))

    def path(self, value: str) -> Path:
        return resolve_path(self.base_dir, value)

    def check_columns(self, param: str, columns: Iterable[str], port: str = "in") -> bool:
        """Report each column missing from an input's schema; True when all are known to exist."""
        schema = self.input(port)
        where = f" of input '{port}'" if port != "in" else ""
        return schema is not None and self.check_columns_of(param, columns, schema, where)

    def check_columns_of(self, param: str, columns: Iterable[str], schema: Schema, where: str = "") -> bool:
        """Report each column missing from `schema`, suggesting the closest name."""
        ok = True
        for column in columns:
            if column not in schema:
                self.error(param, f"unknown column '{column}'{where}{suggest(column, schema.names)}")
                ok = False
        return ok


@dataclass
class Inference:
    """Schemas of every output port, and what was found wrong on the way."""

    outputs: dict[tuple[str, str], Schema | None]
    issues: list[Issue]

    def output(self, node: str, port: str = "out") -> Schema | None:
        return self.outputs.get((node, port))


def infer_schemas(
    project: Project, registry: Registry, base_dir: str | Path, *, skip: Iterable[str] = ()
) -> Inference:
    """Walk the graph in topological order, calling each node type's schema function.

    Nodes in `skip` (those whose params are invalid) and unknown types get unknown outputs.
    """
    skipped = set(skip)
    outputs: dict[tuple[str, str], Schema | None] = {}
    issues: list[Issue] = []
    order = topological_order(project)
    if order is None:  # a cycle: validation reports it, schemas stay unknown
        return Inference(outputs, issues)
    feeds = {(e.target.node, e.target.port): (e.source.node, e.source.port) for e in project.edges}
    for node in order:
        spec = registry.find(node.type)
        if spec is None or node.id in skipped:
            continue
        inputs = {
            p.name: outputs.get(feeds[(node.id, p.name)]) for p in spec.inputs if (node.id, p.name) in feeds
        }
        ctx = SchemaContext(node.id, spec.with_defaults(node.given_params()), inputs, Path(base_dir))
        result = _call_schema(spec, ctx)
        for port in spec.outputs:
            outputs[(node.id, port.name)] = result.get(port.name) if isinstance(result, dict) else result
        issues.extend(ctx.issues)
    return Inference(outputs, issues)


def _call_schema(spec: NodeSpec, ctx: SchemaContext) -> Schema | dict[str, Schema | None] | None:
    try:
        return spec.schema(ctx)
    except Exception as exc:  # a plugin's schema function must not break validation
        ctx.warning(None, f"cannot infer the output columns: {type(exc).__name__}: {exc}")
        return None
