"""Graphmill's headless engine: project files, node types, validation and execution.

The public API is `__all__`; modules with a leading underscore are internal. Names load lazily,
so `import engine` stays cheap for the CLI and for Dask workers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # project files
    "FORMAT": "models",
    "Project": "models",
    "Node": "models",
    "Edge": "models",
    "Resources": "models",
    "load": "projectfile",
    "loads": "projectfile",
    "save": "projectfile",
    "dumps": "projectfile",
    "resolve_path": "projectfile",
    # problems
    "Issue": "errors",
    "GraphmillError": "errors",
    "ProjectError": "errors",
    # node types
    "NodeSpec": "registry",
    "Param": "registry",
    "Port": "registry",
    "Shape": "registry",
    "Editor": "registry",
    "Registry": "registry",
    "default_registry": "registry",
    "builtin_registry": "registry",
    # checking and schemas
    "validate": "validate",
    "check": "validate",
    "Schema": "schema",
    "SchemaContext": "schema",
    "infer_schemas": "schema",
    "DTYPES": "schema",
    # running
    "run_file": "run",
    "RunOptions": "run",
    "DataError": "errors",
    # expressions
    "parse_expression": "expr",
    "ExprError": "expr",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    attr = "parse" if name == "parse_expression" else name
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .errors import DataError, GraphmillError, Issue, ProjectError
    from .expr import ExprError
    from .expr import parse as parse_expression
    from .models import FORMAT, Edge, Node, Project, Resources
    from .projectfile import dumps, load, loads, resolve_path, save
    from .registry import (
        Editor,
        NodeSpec,
        Param,
        Port,
        Registry,
        Shape,
        builtin_registry,
        default_registry,
    )
    from .run import RunOptions, run_file
    from .schema import DTYPES, Schema, SchemaContext, infer_schemas
    from .validate import check, validate
