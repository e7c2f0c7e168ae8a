"""Quartier geometries as served: simplified on request, bounded in size, serialised once."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import shapely

from app.errors import TooLarge

# Metres per degree of latitude; a degree of longitude is shorter, so a tolerance converted
# with this number never moves a vertex by more than the metres asked for.
METRES_PER_DEGREE = 111_320.0


def served_geometry(
    code: str, geom: shapely.Geometry, simplify_m: float, max_vertices: int
) -> dict[str, Any]:
    """The GeoJSON geometry of a quartier, simplified by ``simplify_m`` metres (0: exact).

    TooLarge when it holds more than ``max_vertices`` vertices: the caller asks for a
    simplified one rather than the server sending tens of megabytes.
    """
    if simplify_m > 0:
        geom = shapely.simplify(geom, simplify_m / METRES_PER_DEGREE, preserve_topology=True)
    vertices = int(shapely.get_num_coordinates(geom))
    if vertices > max_vertices:
        raise TooLarge(
            f"the geometry of {code} has {vertices:,} vertices, past this server's limit of "
            f"{max_vertices:,}; ask for a simplified one with ?simplify=METRES",
            vertices=vertices,
            limit=max_vertices,
        )
    mapping: dict[str, Any] = shapely.geometry.mapping(geom)
    return mapping


@dataclass(slots=True)
class FeatureCache:
    """Serialised answers of one dataset, least recently used first out past ``max_bytes``."""

    max_bytes: int = 64 * 2**20
    _items: OrderedDict[tuple[str, float], bytes] = field(default_factory=OrderedDict)
    _size: int = 0

    def get(self, key: tuple[str, float]) -> bytes | None:
        """The cached bytes for ``key`` (code, simplification), if any."""
        body = self._items.get(key)
        if body is not None:
            self._items.move_to_end(key)
        return body

    def put(self, key: tuple[str, float], body: bytes) -> None:
        """Keep ``body`` unless it alone is past the budget; evict the oldest to fit."""
        if len(body) > self.max_bytes or key in self._items:
            return
        self._items[key] = body
        self._size += len(body)
        while self._size > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self._size -= len(old)
