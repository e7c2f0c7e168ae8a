"""Simplified QPV polygons for maps: one GeoJSON layer per geography and zoom band, cached.

A web map needs far fewer vertices than the exact index: at a national zoom a quartier is a
few pixels wide. Each band simplifies (Douglas-Peucker, topology kept so no quartier
vanishes) to about a third of a pixel at the band's most detailed zoom, and rounds the
coordinates to match, so a whole geography stays small enough for one request.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import shapely
from numpy.typing import NDArray

from app.errors import InvalidInput
from app.spatial.index import GeographyIndex


@dataclass(frozen=True, slots=True)
class Band:
    """A zoom band: the zooms it serves, its simplification and its coordinate decimals."""

    min_zoom: int
    max_zoom: int
    tolerance_deg: float
    decimals: int


# Web Mercator zooms; a pixel is about 150 km * cos(lat) / 2**zoom: 200 m at zoom 9 in the
# hexagone, 25 m at 12, 6 m at 14. The last band keeps the source geometry (4 decimals in
# the 2024 file, about 10 m) at 6 decimals.
BANDS = (
    Band(0, 9, 0.001, 3),
    Band(10, 12, 0.0002, 4),
    Band(13, 14, 0.00004, 5),
    Band(15, 22, 0.0, 6),
)
FALLBACK_DECIMALS = 6


def band_of_zoom(zoom: int) -> int:
    """The band serving a zoom level (clamped to the bands' range)."""
    for number, band in enumerate(BANDS):
        if zoom <= band.max_zoom:
            return number
    return len(BANDS) - 1


@dataclass(frozen=True, slots=True)
class MapLayer:
    """One geography at one band: the GeoJSON body, gzipped once, and its validator."""

    body: bytes
    gzipped: bytes
    etag: str
    features: int


def _rounder(decimals: int) -> Any:
    def rounded(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.round(coords, decimals)

    return rounded


def build_layer(geo: GeographyIndex, band_number: int) -> MapLayer:
    """The simplified FeatureCollection of every quartier of ``geo`` (code and name each)."""
    if not 0 <= band_number < len(BANDS):
        raise InvalidInput(f"band must be between 0 and {len(BANDS) - 1}")
    band = BANDS[band_number]
    geoms = geo.geoms
    if band.tolerance_deg > 0:
        geoms = shapely.simplify(geoms, band.tolerance_deg, preserve_topology=True)
    rounded = shapely.transform(geoms, _rounder(band.decimals))
    # A quartier smaller than the rounding step would collapse: keep it at finer rounding,
    # so that every quartier stays visible (a dot at a national zoom) at every band.
    flat = shapely.area(rounded) == 0
    rounded[flat] = shapely.transform(geoms[flat], _rounder(FALLBACK_DECIMALS))
    geoms = rounded
    features = [
        {
            "type": "Feature",
            "id": info.code,
            "properties": {"code": info.code, "name": info.name},
            "geometry": shapely.geometry.mapping(geom),
        }
        for info, geom in zip(geo.infos, geoms, strict=True)
        if not shapely.is_empty(geom)
    ]
    collection = {
        "type": "FeatureCollection",
        "geography": str(geo.geography),
        "dataset_version": geo.dataset.version,
        "band": band_number,
        "zooms": [band.min_zoom, band.max_zoom],
        "features": features,
    }
    body = orjson.dumps(collection)
    # The validator names the content exactly: same dataset and band, same bytes.
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    return MapLayer(body, gzip.compress(body, 6), f'"{digest}"', len(features))


class LayerCache:
    """Layers built on first request, kept per dataset (its sha256) and band."""

    def __init__(self) -> None:
        self._layers: dict[tuple[str, int], MapLayer] = {}
        self._lock = threading.Lock()

    def get(self, geo: GeographyIndex, band_number: int) -> MapLayer:
        """The cached layer, built once (a reloaded dataset has a new sha256, a new entry)."""
        key = (geo.dataset.sha256, band_number)
        layer = self._layers.get(key)
        if layer is None:
            with self._lock:  # one build at a time: concurrent first requests wait for it
                layer = self._layers.get(key)
                if layer is None:
                    layer = self._layers[key] = build_layer(geo, band_number)
        return layer
