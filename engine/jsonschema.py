"""The JSON Schema of the `graphmill/1` format, with every registered node type's params."""

from __future__ import annotations

from typing import Any

from .models import FORMAT, ID_PATTERN
from .registry import NodeSpec, Registry

_PORT_REF = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_-]*\.[^.]+$"}


def project_schema(registry: Registry) -> dict[str, Any]:
    """A draft 2020-12 schema; editors and CI can check project files with it."""
    defs: dict[str, Any] = {"resources": _resources()}
    node: dict[str, Any] = {
        "type": "object",
        "required": ["id", "type"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN, "description": "Unique, stable node id."},
            "type": {"type": "string", "description": "A registered node type."},
            "version": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "Params version of the node type.",
            },
            "plugin": {
                "type": ["string", "null"],
                "description": "The distribution providing a plugin node type.",
            },
            "params": {"type": "object"},
            "resources": {"$ref": "#/$defs/resources"},
            "ui": {"type": "object", "description": "GUI-only state; the engine ignores it."},
        },
        "allOf": [_params_rule(spec, defs) for spec in registry],
    }
    edge = {
        "type": "object",
        "required": ["from", "to"],
        "additionalProperties": False,
        "properties": {"from": _PORT_REF, "to": _PORT_REF},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Graphmill project",
        "type": "object",
        "required": ["format"],
        "additionalProperties": False,
        "properties": {
            "format": {"const": FORMAT},
            "name": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "resources": {"$ref": "#/$defs/resources"},
            "nodes": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            "edges": {"type": "array", "items": {"$ref": "#/$defs/edge"}},
            "ui": {"type": "object"},
        },
        "$defs": {**defs, "node": node, "edge": edge},
    }


def _resources() -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {
            "backend": {"enum": ["auto", "sequential", "threads", "processes", "dask", None]},
            "workers": {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}, {"type": "null"}]},
            "device": {"enum": ["cpu", "gpu", "auto", None]},
            "scheduler": {"type": ["string", "null"]},
            "security": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "required": ["ca", "cert", "key"],
                "properties": {k: {"type": "string"} for k in ("ca", "cert", "key")},
            },
        },
    }


def _params_rule(spec: NodeSpec, defs: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for param in spec.params:
        schema = param.json_schema()
        for name, sub in schema.pop("$defs", {}).items():
            defs.setdefault(name, sub)
        properties[param.name] = schema if param.required else {"anyOf": [schema, {"type": "null"}]}
    params = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": [p.name for p in spec.params if p.required],
    }
    types = [spec.type, *spec.legacy_types]
    return {
        "if": {"properties": {"type": {"enum": types}}, "required": ["type"]},
        "then": {"properties": {"params": params}},
    }
