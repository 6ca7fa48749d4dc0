"""The docs stay true: relative links resolve, and the plugin guide matches the example plugin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.registry import ENTRY_POINT_GROUP
from tests.geo_plugin import GEO_SOURCE, geo_specs

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), GEO_SOURCE / "README.md"]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_relative_links_resolve(page: Path) -> None:
    links = [t for t in _LINK.findall(page.read_text()) if "://" not in t]
    missing = [t for t in links if not (page.parent / t).exists()]
    assert missing == []


def test_docs_plugin_guide_shows_the_example_as_it_is() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    (spec,) = geo_specs()
    assert f'type="{spec.type}"' in guide and f"version={spec.version}" in guide
    for param in spec.params:
        assert f'"{param.name}"' in guide, param.name
    assert f'[project.entry-points."{ENTRY_POINT_GROUP}"]' in guide
    assert f'[project.entry-points."{ENTRY_POINT_GROUP}"]' in (GEO_SOURCE / "pyproject.toml").read_text()
