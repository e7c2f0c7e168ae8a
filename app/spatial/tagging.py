"""Tag coordinate arrays with QPV codes and statuses: the entry point for notebooks and batches.

``tag_points(index, lon, lat)`` answers a whole array at once: one grid query per geography
for membership; with a tolerance, one "within d metres of a boundary" query per territory
for ``near_boundary``; full metric distances only when asked for (they cost ~15 µs a point).
Internally everything is small integers; names are looked up once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from app.errors import InvalidInput
from app.spatial.geography import Geography, geography_in_force
from app.spatial.index import NEAR_MAX_M, GeographyIndex, QpvIndex
from app.spatial.territories import TERRITORIES

INVALID = "invalid"  # status of a point whose coordinates are not a WGS84 position
STATUSES = np.array(["in", "out", "near_boundary", INVALID], dtype=object)
_IN, _OUT, _NEAR, _INVALID = range(4)
GEOGRAPHIES = list(Geography)
_TERRITORY_NAMES = np.array([t.key for t in TERRITORIES] + [None], dtype=object)


@dataclass(frozen=True, slots=True)
class Tagged:
    """Per-point answers, in input order; ``None`` codes are points outside every QPV."""

    code: NDArray[np.object_]
    status: NDArray[np.object_]  # in, out, near_boundary (with a tolerance), or invalid
    geography: NDArray[np.object_]  # the geography each point was answered in
    territory: NDArray[np.object_]  # territory key, None outside every QPV territory
    distance_m: NDArray[np.float64] | None  # to the nearest boundary, when asked; else None


def territory_index(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.int8]:
    """Position in TERRITORIES of each point's territory, -1 outside every box."""
    out = np.full(len(lon), -1, dtype=np.int8)
    for i in reversed(range(len(TERRITORIES))):  # first match wins, as territory_of_point
        x0, y0, x1, y1 = TERRITORIES[i].bbox
        out[(lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)] = i
    return out


@dataclass(frozen=True, slots=True)
class TaggedIds:
    """Per-point answers as small integers (no Python objects), for batches."""

    qpv: NDArray[np.int32]  # id in ``index.get(GEOGRAPHIES[geography[i]])``, -1 outside
    status: NDArray[np.int8]  # position in STATUSES
    geography: NDArray[np.int8]  # position in GEOGRAPHIES
    territory: NDArray[np.int8]  # position in TERRITORIES, -1 outside every territory
    distance_m: NDArray[np.float64] | None  # to the nearest boundary, when asked; else None


def tag_points(
    index: QpvIndex,
    lon: ArrayLike,
    lat: ArrayLike,
    geography: Geography | None = None,
    as_of: date | None = None,
    tolerance_m: float | None = None,
    distances: bool = False,
) -> Tagged:
    """QPV code and status of every point, in the geography named or in force there."""
    ids = tag_ids(index, lon, lat, geography, as_of, tolerance_m, distances)
    code = np.full(len(ids.qpv), None, dtype=object)
    for g in np.unique(ids.geography).tolist():
        rows = np.flatnonzero((ids.geography == g) & (ids.qpv >= 0))
        code[rows] = index.get(GEOGRAPHIES[g]).codes[ids.qpv[rows]]
    return Tagged(
        code,
        STATUSES[ids.status],
        np.array([str(g) for g in GEOGRAPHIES], dtype=object)[ids.geography],
        _TERRITORY_NAMES[ids.territory],
        ids.distance_m,
    )


def tag_ids(
    index: QpvIndex,
    lon: ArrayLike,
    lat: ArrayLike,
    geography: Geography | None = None,
    as_of: date | None = None,
    tolerance_m: float | None = None,
    distances: bool = False,
) -> TaggedIds:
    """``tag_points`` in integer ids: what batches keep until they write a row."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.shape != lat.shape or lon.ndim != 1:
        raise InvalidInput("lon and lat must be 1-D arrays of the same length")
    n = len(lon)
    valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    territory = territory_index(lon, lat)
    chosen = _geographies(index, territory, geography, as_of)
    qpv = np.full(n, -1, dtype=np.int32)
    status = np.where(valid, _OUT, _INVALID).astype(np.int8)
    distance = np.full(n, np.nan) if distances else None
    near = np.zeros(n, dtype=bool)
    for g in np.unique(chosen[valid]).tolist():
        geo = index.get(GEOGRAPHIES[g])
        rows = np.flatnonzero(valid & (chosen == g))
        ids = geo.tag(lon[rows], lat[rows])
        qpv[rows] = ids
        status[rows[ids >= 0]] = _IN
        if tolerance_m is not None or distances:
            _near(geo, rows, lon, lat, territory, tolerance_m, distance, near)
    status[near & valid] = _NEAR
    return TaggedIds(qpv, status, chosen, territory, distance)


def _near(
    geo: GeographyIndex,
    rows: NDArray[np.intp],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    territory: NDArray[np.int8],
    tolerance_m: float | None,
    distance: NDArray[np.float64] | None,
    near: NDArray[np.bool_],
) -> None:
    """Fill ``distance`` (when given) and ``near`` for ``rows``, territory by territory."""
    for t, territory_def in enumerate(TERRITORIES):
        part = geo.parts.get(territory_def.key)
        sub = rows[territory[rows] == t]
        if part is None or sub.size == 0:
            continue
        if distance is None and tolerance_m is not None and tolerance_m <= NEAR_MAX_M:
            # Only points in raster cells near a boundary can be within the tolerance.
            sub = sub[part.maybe_near(lon[sub], lat[sub], tolerance_m)]
            if sub.size == 0:
                continue
        x, y = territory_def.to_metric().transform(lon[sub], lat[sub])
        points = shapely.points(x, y)
        if distance is not None:
            _, d = part.segment_tree().query_nearest(
                points, return_distance=True, all_matches=False
            )
            distance[sub] = d
            if tolerance_m is not None:
                near[sub[d <= tolerance_m]] = True
        elif tolerance_m is not None:
            close, _ = part.segment_tree().query(points, predicate="dwithin", distance=tolerance_m)
            near[sub[close]] = True


def _geographies(
    index: QpvIndex,
    territory: NDArray[np.int8],
    geography: Geography | None,
    as_of: date | None,
) -> NDArray[np.int8]:
    """Position in GEOGRAPHIES of the geography each point is answered in."""
    if geography is not None:
        index.get(geography)  # fail early if it is not loaded
        return np.full(len(territory), GEOGRAPHIES.index(geography), dtype=np.int8)
    on = as_of or date.today()
    # Points outside every territory (-1) follow the hexagone's calendar, as single lookups.
    in_force = [GEOGRAPHIES.index(geography_in_force(on, t)) for t in TERRITORIES]
    lookup = np.array([*in_force, in_force[0]], dtype=np.int8)
    return lookup[territory]
