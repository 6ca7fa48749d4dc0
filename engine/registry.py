"""The node-spec API: what a node type declares, and the registry that holds the types.

A node type is one `NodeSpec`: its name, family, ports, params (type, default, choices, doc and
the editor a GUI should use), params version and migrations, execution shape, the columns it
reads, and a schema function that computes its output columns from its inputs without touching
data. Built-in types (`engine.nodes`) are declared exactly like plugin types, which are found
through the entry-point group `graphmill.nodes`. See docs/node-spec.md.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from .errors import Issue, ProjectError

if TYPE_CHECKING:
    from .models import Node
    from .schema import Schema, SchemaContext
    from .steps import BuildFunction

ENTRY_POINT_GROUP = "graphmill.nodes"


class Shape(StrEnum):
    """How a node runs: this decides how the planner may fuse and distribute it."""

    SOURCE = "source"  # produces partitions; no inputs
    ROW_LOCAL = "row_local"  # each partition on its own, fusable with its neighbours
    GLOBAL = "global"  # a partial per partition, then a combine step in partition order
    EXCHANGE = "exchange"  # moves rows between partitions (repartitioning), values untouched
    SINK = "sink"  # consumes partitions in order and writes them; no outputs


class Editor(StrEnum):
    """The editor a GUI should offer for a param."""

    TEXT = "text"
    PATH = "path"  # a file to open
    SAVE_PATH = "save_path"  # a file to write
    CHOICE = "choice"  # one of `choices`
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    EXPRESSION = "expression"  # validated with engine.expr as you type
    COLUMN = "column"  # one column name of the input
    COLUMNS = "columns"  # a list of column names of the input
    SORT_KEYS = "sort_keys"  # column names, "-col" for descending
    MAPPING = "mapping"  # {text: text}, e.g. renames
    COLUMN_VALUES = "column_values"  # {column: value}, e.g. fill
    COLUMN_DTYPES = "column_dtypes"  # {column: dtype}
    EXPRESSIONS = "expressions"  # {new column: expression}, evaluated in order
    AGGREGATE = "aggregate"  # {"by": [...], "values": {name: "fn(col)"}}
    TEXT_RULES = "text_rules"  # [{column, lower, strip, remove}]
    TEXT_LIST = "text_list"  # a list of free text values
    JSON = "json"  # anything else: raw JSON


@dataclass(frozen=True)
class Port:
    name: str
    doc: str = ""
    required: bool = True


@dataclass(frozen=True)
class Param:
    """One parameter: `type` is a Python type hint, checked strictly (no "5" for 5)."""

    name: str
    type: Any
    doc: str
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] | None = None
    editor: Editor = Editor.TEXT
    columns_from: str | None = None  # the input port whose columns a column editor offers
    expects: str | None = None  # what a value must be, in words, for messages on union types

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.type)

    def check(self, value: Any) -> list[str]:
        """Messages for what is wrong with `value` (empty when it is fine)."""
        try:
            self.adapter.validate_python(value, strict=True)
        except ValidationError as exc:
            if self.expects is not None:
                return [f"must be {self.expects}, not {_short(value)}"]
            return _messages(exc.errors())
        if self.choices is not None and value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            return [f"{value!r} is not one of {options}"]
        return []

    def json_schema(self) -> dict[str, Any]:
        schema = dict(self.adapter.json_schema())
        schema.pop("title", None)
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        schema["description"] = self.doc
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def to_json(self) -> dict[str, Any]:
        schema = self.json_schema()
        schema.pop("description", None)
        schema.pop("default", None)
        return {
            "name": self.name,
            "doc": self.doc,
            "required": self.required,
            "default": self.default,
            "choices": list(self.choices) if self.choices is not None else None,
            "editor": str(self.editor),
            "columns_from": self.columns_from,
            "schema": schema,
        }


SchemaFunction = Callable[["SchemaContext"], "Schema | dict[str, Schema | None] | None"]
ReadsFunction = Callable[[dict[str, Any]], "Iterable[str] | None"]
Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _reads_everything(params: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class NodeSpec:
    """Everything the engine and the GUI know about one node type."""

    type: str
    family: str
    title: str
    doc: str
    shape: Shape
    schema: SchemaFunction
    inputs: tuple[Port, ...] = (Port("in"),)
    outputs: tuple[Port, ...] = (Port("out"),)
    params: tuple[Param, ...] = ()
    version: int = 1
    # migrations[k] turns params of version k into params of version k + 1
    migrations: Mapping[int, Migration] = field(default_factory=dict)
    legacy_types: tuple[str, ...] = ()
    # the input columns the node reads (None: all of them), so the planner sends only those
    reads: ReadsFunction = _reads_everything
    # params, context -> execution steps (engine.steps); None: the type cannot run
    build: BuildFunction | None = None
    # when the shape depends on params (a compute without aggregate or sort is row-local)
    shape_for: Callable[[dict[str, Any]], Shape] | None = None
    plugin: str | None = None  # the distribution that provides it; set by the registry

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"node type '{self.type}' declares a param twice")
        missing = [k for k in range(1, self.version) if k not in self.migrations]
        if missing:
            raise ValueError(f"node type '{self.type}' has no migration from params version {missing[0]}")
        if self.shape is Shape.SOURCE and self.inputs:
            raise ValueError(f"source node type '{self.type}' cannot have inputs")
        if self.shape is Shape.SINK and self.outputs:
            raise ValueError(f"sink node type '{self.type}' cannot have outputs")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def input(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def execution_shape(self, params: Mapping[str, Any]) -> Shape:
        """The shape for these params (defaults filled in)."""
        return self.shape_for(self.with_defaults(params)) if self.shape_for else self.shape

    def with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Every declared param, the given value or its default (null counts as not given)."""
        out = {p.name: p.default for p in self.params}
        out.update({k: v for k, v in params.items() if v is not None})
        return out

    def check_params(self, node_id: str, params: Mapping[str, Any]) -> list[Issue]:
        """Unknown keys, missing required params and wrongly typed values."""
        issues: list[Issue] = []
        known = {p.name for p in self.params}
        for key in params:
            if key not in known:
                from .schema import suggest

                hint = (
                    suggest(key, known) or f" (params of '{self.type}': {', '.join(sorted(known)) or 'none'})"
                )
                issues.append(Issue(f"unknown param{hint}", node=node_id, param=key))
        for p in self.params:
            value = params.get(p.name)
            if value is None:
                if p.required:
                    issues.append(Issue("is required", node=node_id, param=p.name))
                continue
            issues.extend(Issue(msg, node=node_id, param=p.name) for msg in p.check(value))
        return issues

    def upgrade(self, node: Node) -> Node:
        """Apply the type rename and params migrations to a node as saved in a file."""
        if node.version > self.version:
            raise ProjectError(
                [
                    Issue(
                        f"saved with params version {node.version} of '{self.type}', but the "
                        f"installed {self._provider()} knows version {self.version}: please upgrade it",
                        node=node.id,
                    )
                ]
            )
        params = dict(node.params)
        for k in range(node.version, self.version):
            try:
                params = self.migrations[k](dict(params))
            except Exception as exc:
                msg = f"cannot migrate params from version {k} to {k + 1}: {exc}"
                raise ProjectError([Issue(msg, node=node.id)]) from None
        if node.type == self.type and node.version == self.version:
            return node
        return node.model_copy(update={"type": self.type, "version": self.version, "params": params})

    def _provider(self) -> str:
        return f"plugin '{self.plugin}'" if self.plugin else "Graphmill"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "family": self.family,
            "title": self.title,
            "doc": self.doc,
            "shape": str(self.shape),
            "version": self.version,
            "plugin": self.plugin,
            "legacy_types": list(self.legacy_types),
            "inputs": [{"name": p.name, "doc": p.doc, "required": p.required} for p in self.inputs],
            "outputs": [{"name": p.name, "doc": p.doc} for p in self.outputs],
            "params": [p.to_json() for p in self.params],
        }


@dataclass(frozen=True)
class PluginFailure:
    """A plugin entry point that could not be loaded; reported once, by name."""

    plugin: str
    entry_point: str
    error: str

    def __str__(self) -> str:
        return f"plugin '{self.plugin}' ({self.entry_point}) failed to load, its node types are unavailable: {self.error}"


class Registry:
    """Node types by name. Make one per process (`default_registry`) or per test."""

    def __init__(self, specs: Iterable[NodeSpec] = ()) -> None:
        self._specs: dict[str, NodeSpec] = {}
        self._legacy: dict[str, str] = {}
        self.failures: list[PluginFailure] = []
        for spec in specs:
            self.register(spec)

    def register(
        self, spec: NodeSpec, *, plugin: str | None = None, replace_existing: bool = False
    ) -> NodeSpec:
        if plugin is not None:
            spec = replace(spec, plugin=plugin)
        if spec.type in self._specs and not replace_existing:
            raise ValueError(f"node type '{spec.type}' is already registered")
        self._specs[spec.type] = spec
        for old in spec.legacy_types:
            self._legacy[old] = spec.type
        return spec

    def find(self, type_name: str) -> NodeSpec | None:
        """The spec of a type, following legacy names; None when not installed."""
        name = type_name if type_name in self._specs else self._legacy.get(type_name, type_name)
        return self._specs.get(name)

    def __getitem__(self, type_name: str) -> NodeSpec:
        spec = self.find(type_name)
        if spec is None:
            raise KeyError(type_name)
        return spec

    def __contains__(self, type_name: object) -> bool:
        return isinstance(type_name, str) and self.find(type_name) is not None

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def families(self) -> dict[str, list[NodeSpec]]:
        out: dict[str, list[NodeSpec]] = {}
        for spec in self:
            out.setdefault(spec.family, []).append(spec)
        return out

    def load_plugins(self, group: str = ENTRY_POINT_GROUP) -> list[PluginFailure]:
        """Register every node type the installed plugins declare under `group`.

        An entry point names a NodeSpec, an iterable of them, or a callable returning either.
        A plugin that fails is recorded in `failures` and skipped; the others still load.
        """
        failures: list[PluginFailure] = []
        for ep in installed_entry_points(group):
            dist = ep.dist.name if ep.dist is not None else ep.name
            try:
                obj = ep.load()
                specs = _as_specs(obj() if callable(obj) and not isinstance(obj, NodeSpec) else obj)
                for spec in specs:
                    self.register(spec, plugin=dist)
            except Exception as exc:
                failures.append(
                    PluginFailure(dist, f"{ep.name} = {ep.value}", f"{type(exc).__name__}: {exc}")
                )
        self.failures.extend(failures)
        return failures


def _as_specs(obj: Any) -> list[NodeSpec]:
    specs = [obj] if isinstance(obj, NodeSpec) else list(obj)
    bad = [s for s in specs if not isinstance(s, NodeSpec)]
    if bad:
        raise TypeError(f"expected NodeSpec objects, got {type(bad[0]).__name__}")
    return specs


def builtin_registry() -> Registry:
    """A registry of the built-in node types of FORMAT.md only."""
    from .nodes import BUILTIN_SPECS

    return Registry(BUILTIN_SPECS)


@lru_cache(maxsize=4)
def _all_entry_points(path: tuple[str, ...]) -> importlib.metadata.EntryPoints:
    return importlib.metadata.entry_points()


def installed_entry_points(group: str) -> importlib.metadata.EntryPoints:
    """The installed distributions' entry points in `group`. The metadata of every installed
    distribution is read once per `sys.path` (40-70 ms here); the CLI asks for two groups."""
    return _all_entry_points(tuple(sys.path)).select(group=group)


def default_registry(*, plugins: bool = True) -> Registry:
    """Built-in types plus installed plugins: what the CLI and the GUI use."""
    registry = builtin_registry()
    if plugins:
        registry.load_plugins()
    return registry


def _messages(errors: list[Any]) -> list[str]:
    """pydantic's errors as one message per location inside the value."""
    out: dict[str, str] = {}
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        where = f" at '{loc}'" if loc else ""
        out.setdefault(loc, f"{msg}{where}, not {_short(err.get('input'))}")
    return list(out.values())


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
