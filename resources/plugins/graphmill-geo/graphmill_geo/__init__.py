"""graphmill-geo: the example Graphmill plugin (see docs/plugins.md in Graphmill).

Graphmill loads `SPECS` through the entry point `geo = "graphmill_geo:SPECS"` in the group
`graphmill.nodes`; importing this package costs only NumPy and pandas.
"""

from __future__ import annotations

from .distance import DISTANCE, EARTH_RADIUS_KM, UNITS, haversine

__all__ = ["DISTANCE", "EARTH_RADIUS_KM", "SPECS", "UNITS", "haversine"]
__version__ = "2.0.0"

SPECS = [DISTANCE]
