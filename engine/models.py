"""Typed models of a `graphmill/1` project file (FORMAT.md).

The models check the *shape* of a project (keys, ids, value types of the envelope). What depends on
node types (params, ports, columns) is checked by `engine.validate` against a registry, so a
project whose node types are not installed still loads, keeps its params and saves them back.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FORMAT = "graphmill/1"
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
_ID_RE = re.compile(ID_PATTERN)

Backend = Literal["auto", "sequential", "threads", "processes", "dask"]
Device = Literal["cpu", "gpu", "auto"]


_WORKERS_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}, {"type": "null"}]
}
SIZE_PATTERN = r"^\s*\d+(\.\d+)?\s*([KMGTkmgt][iI]?)?[Bb]?\s*$"  # 512MB, 2 GiB, 1.5G, 1000
_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])I?)?B?\s*", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_MEMORY_SCHEMA: dict[str, Any] = {"anyOf": [{"const": "auto"}, {"type": "string", "pattern": SIZE_PATTERN}]}


def parse_size(text: str) -> int:
    """'512MB', '2 GiB', '1.5G', '1000000' -> bytes (binary units: 1 MB = 2**20 bytes)."""
    m = _SIZE_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"memory must be 'auto' or a size such as 512MB, 2GB or 1.5G, not {text!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").upper()])


class _Strict(BaseModel):
    """Unknown keys are errors everywhere outside `ui` (FORMAT.md "Strictness")."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class Security(_Strict):
    """TLS for a Dask scheduler (`tls://`): paths of the CA certificate and of this client's
    certificate and key, relative to the project's folder. Never printed or reported."""

    ca: str
    cert: str
    key: str

    def __repr__(self) -> str:  # the paths stay out of logs and tracebacks
        return "Security(...)"


class Resources(_Strict):
    """Where a project (or one node) runs; every key is optional."""

    backend: Backend | None = None
    workers: Any = Field(default=None, json_schema_extra=_WORKERS_SCHEMA)
    device: Device | None = None
    scheduler: str | None = None
    security: Security | None = None
    # held frames beyond this many bytes wait on disk (engine.spill); a size, or auto
    memory: str | None = Field(default=None, json_schema_extra=_MEMORY_SCHEMA)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and value != "auto":
            parse_size(value)
        return value

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: Any) -> int | str | None:
        ok = value is None or value == "auto"
        ok = ok or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
        if not ok:
            raise ValueError(f"workers must be an integer >= 1 or 'auto', not {value!r}")
        return value


class PortRef(_Strict):
    """One end of an edge, written `node.port` in the file."""

    node: str
    port: str

    def __str__(self) -> str:
        return f"{self.node}.{self.port}"

    @classmethod
    def parse(cls, text: str) -> PortRef:
        node, sep, port = text.partition(".")
        if not sep or not _ID_RE.match(node) or not port:
            raise ValueError(f"'{text}' is not of the form node.port")
        return cls(node=node, port=port)


class Edge(_Strict):
    """A connection from an output port to an input port: `{"from": "a.out", "to": "b.in"}`."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)

    source: PortRef = Field(alias="from")
    target: PortRef = Field(alias="to")

    @model_validator(mode="before")
    @classmethod
    def _parse_refs(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("from", "to"):
                if isinstance(data.get(key), str):
                    data[key] = PortRef.parse(data[key])
        return data

    @classmethod
    def of(cls, source: str, target: str) -> Edge:
        return cls.model_validate({"from": source, "to": target})

    def to_json(self) -> dict[str, str]:
        return {"from": str(self.source), "to": str(self.target)}


class Node(_Strict):
    """One node: its stable id, registered type and params by name."""

    id: str = Field(json_schema_extra={"pattern": ID_PATTERN})
    type: str = Field(min_length=1)
    version: int = Field(default=1, ge=1)
    plugin: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    resources: Resources | None = None
    ui: dict[str, Any] | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID_RE.match(value):
            raise ValueError(
                f"id {value!r} is not valid: use letters, digits, '_' and '-', starting with a letter or '_'"
            )
        return value

    def given_params(self) -> dict[str, Any]:
        """Params with `null` dropped: `null` means "not given" (FORMAT.md)."""
        return {k: v for k, v in self.params.items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.version != 1:
            out["version"] = self.version
        if self.plugin is not None:
            out["plugin"] = self.plugin
        out["params"] = self.params
        if self.resources is not None:
            out["resources"] = _resources_json(self.resources)
        if self.ui is not None:
            out["ui"] = self.ui
        return out


class Project(_Strict):
    """A whole project file; node order is the file's order and is kept on save."""

    format: Literal["graphmill/1"] = FORMAT
    name: str = ""
    description: str | None = None
    resources: Resources | None = None
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    ui: dict[str, Any] | None = None

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON object: fixed key order, unset optional keys left out."""
        out: dict[str, Any] = {"format": self.format, "name": self.name}
        if self.description is not None:
            out["description"] = self.description
        if self.resources is not None:
            out["resources"] = _resources_json(self.resources)
        out["nodes"] = [node.to_json() for node in self.nodes]
        out["edges"] = [edge.to_json() for edge in self.edges]
        if self.ui is not None:
            out["ui"] = self.ui
        return out


def _resources_json(resources: Resources) -> dict[str, Any]:
    return resources.model_dump(exclude_unset=True)
