"""The example plugin graphmill-geo, imported from the checkout for in-process tests.

Unit tests never load installed entry points (STYLE.md): they import the plugin's package from
resources/plugins/ and register its specs explicitly, with `plugin=` set as the registry sets it
for an installed plugin. The package is loaded from its files rather than by putting its folder on
sys.path, so that importlib.metadata can never find plugin metadata there, and without bytecode, so
that no __pycache__ lands in resources/ (Graphmill's wheel ships that folder).
Only the pip-installed test (tests/e2e/test_plugin_geo.py) goes through the entry point.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from engine.registry import NodeSpec, Registry, builtin_registry

GEO_SOURCE = Path(__file__).resolve().parents[1] / "resources" / "plugins" / "graphmill-geo"
GEO_PLUGIN = "graphmill-geo"  # the distribution name, as the registry would record it


def geo_module() -> ModuleType:
    """The `graphmill_geo` package of the checkout (imported once per process)."""
    if "graphmill_geo" in sys.modules:
        return sys.modules["graphmill_geo"]
    package = GEO_SOURCE / "graphmill_geo"
    spec = importlib.util.spec_from_file_location(
        "graphmill_geo", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["graphmill_geo"] = module
    before, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["graphmill_geo"]
        raise
    finally:
        sys.dont_write_bytecode = before
    return module


def geo_specs() -> list[NodeSpec]:
    return list(geo_module().SPECS)


def geo_registry() -> Registry:
    """The built-in types plus graphmill-geo's, registered as its entry point would be."""
    registry = builtin_registry()
    for spec in geo_specs():
        registry.register(spec, plugin=GEO_PLUGIN)
    return registry
