"""Human-readable rendering of node specs for `graphmill nodes` (rich, imported lazily)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .registry import NodeSpec, Param


def type_label(schema: dict[str, Any]) -> str:
    """A short reading of a param's JSON Schema: `list of text`, `'rows' or 'hash'`..."""
    if "enum" in schema:
        return " or ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "anyOf" in schema:
        return " or ".join(type_label(s) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {type_label(schema.get('items', {}))}"
    if kind == "object":
        if "properties" in schema:
            keys = ", ".join(schema["properties"])
            return f"object {{{keys}}}"
        return f"{{text: {type_label(schema.get('additionalProperties', {}))}}}"
    names = {"string": "text", "integer": "int", "number": "number", "boolean": "bool", "null": "null"}
    if kind in names:
        bound = f" >= {schema['minimum']}" if "minimum" in schema else ""
        return names[kind] + bound
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    return "any"


def param_type(param: Param) -> str:
    schema = param.adapter.json_schema()
    defs = schema.get("$defs", {})
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], schema)
    return type_label(schema)


def print_specs(specs: Iterable[NodeSpec]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for spec in specs:
        origin = f", plugin {spec.plugin}" if spec.plugin else ""
        console.print(
            f"[bold]{spec.type}[/bold]  {spec.title} ({spec.family}, {spec.shape}{origin}, version {spec.version})"
        )
        console.print(f"  {spec.doc}")
        ins = ", ".join(p.name + ("" if p.required else " (optional)") for p in spec.inputs) or "none"
        outs = ", ".join(p.name for p in spec.outputs) or "none"
        console.print(f"  inputs: {ins}; outputs: {outs}")
        if spec.params:
            table = Table(box=None, padding=(0, 1), show_edge=False, pad_edge=False)
            for header in ("  param", "type", "default", "doc"):
                table.add_column(header, overflow="fold")
            for p in spec.params:
                default = "required" if p.required else ("-" if p.default is None else json.dumps(p.default))
                table.add_row(f"  {p.name}", param_type(p), default, p.doc)
            console.print(table)
        console.print()
