"""Built-in node types of FORMAT.md, declared through the public node-spec API."""

from __future__ import annotations

from ..registry import NodeSpec
from . import io, merge, transform

BUILTIN_SPECS: tuple[NodeSpec, ...] = (*io.SPECS, *transform.SPECS, *merge.SPECS)

__all__ = ["BUILTIN_SPECS"]
