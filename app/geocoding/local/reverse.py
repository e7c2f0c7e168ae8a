"""Reverse geocoding over the offline tables: the address points nearest a position.

A grid of cells of CELL_DEG degrees holds the streets whose box of address points touches
each cell (a street is a contiguous slice of the address table, so a cell's streets give
its points without a second index over tens of millions of addresses). A query reads the
streets of the cells around the position, ring by ring, until no nearer point can remain
in an unread ring. Built on first use from the tables (one pass over the coordinates),
once per geocoder.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.geocoding.base import Candidate, MatchType
from app.geocoding.local.geocoder import LocalGeocoder
from app.geocoding.local.once import PerGeocoder

CELL_DEG = 0.005  # about 550 m north-south, 370 m east-west in the hexagone
MAX_RINGS = 4  # beyond about 1.5 km nothing is said to be "at" a position
_M_PER_DEG = 110_540.0
_SHIFT = 1 << 20  # cell indices made non-negative before they are packed into one key


@dataclass(frozen=True, slots=True)
class Nearby:
    """An address point near a position: its candidate and its distance in metres."""

    candidate: Candidate
    distance_m: float


class ReverseIndex:
    """The streets of the local tables by grid cell."""

    def __init__(self, geocoder: LocalGeocoder) -> None:
        self.geocoder = geocoder
        streets, addresses, _ = geocoder.tables
        self.start = np.asarray(streets.start, dtype=np.int64)
        self.end = np.asarray(streets.end, dtype=np.int64)
        self.lon = np.asarray(addresses.lon)
        self.lat = np.asarray(addresses.lat)
        owned = np.flatnonzero(self.end > self.start)
        cells = _street_cells(self.lon, self.lat, self.start[owned], self.end[owned])
        lo_x, lo_y, hi_x, hi_y = cells
        nx, ny = hi_x - lo_x + 1, hi_y - lo_y + 1
        counts = nx * ny
        street = np.repeat(owned, counts)
        k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        gx = np.repeat(lo_x, counts) + k % np.repeat(nx, counts)
        gy = np.repeat(lo_y, counts) + k // np.repeat(nx, counts)
        keys = _key(gx, gy)
        order = np.argsort(keys, kind="stable")
        self.keys, first = np.unique(keys[order], return_index=True)
        self.offsets = np.append(first, len(order)).astype(np.int64)
        self.streets = street[order].astype(np.int64)

    def nearest(
        self, lon: float, lat: float, limit: int = 1, kind: MatchType | None = None
    ) -> list[Nearby]:
        """Up to ``limit`` places nearest (lon, lat): address points, or their streets or
        communes when ``kind`` asks for those (one each)."""
        cx, cy = _cell(lon), _cell(lat)
        kx = math.cos(math.radians(lat)) * _M_PER_DEG
        ring_m = CELL_DEG * min(kx, _M_PER_DEG)
        for rings in range(1, MAX_RINGS + 1):
            points, dist = self._points(cx, cy, rings, lon, lat, kx)
            if not len(points):
                continue
            order = np.argsort(dist, kind="stable")
            chosen = self._distinct(points[order], dist[order], limit, kind)
            # A nearer point may still lie in the next ring unless the farthest kept is
            # closer than the rings read.
            if len(chosen) >= limit and chosen[-1].distance_m <= rings * ring_m:
                return chosen
            if rings == MAX_RINGS:
                return [c for c in chosen if c.distance_m <= rings * ring_m]
        return []

    def _points(
        self, cx: int, cy: int, rings: int, lon: float, lat: float, kx: float
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Address points of the streets around a cell, with their distances in metres."""
        xs, ys = np.meshgrid(
            np.arange(cx - rings, cx + rings + 1), np.arange(cy - rings, cy + rings + 1)
        )
        wanted = _key(xs.ravel(), ys.ravel())
        at = np.searchsorted(self.keys, wanted)
        at = at[(at < len(self.keys))]
        at = at[np.isin(self.keys[at], wanted)]
        if not len(at):
            return np.empty(0, np.int64), np.empty(0)
        parts = [self.streets[self.offsets[i] : self.offsets[i + 1]] for i in at.tolist()]
        streets = np.unique(np.concatenate(parts))
        lengths = self.end[streets] - self.start[streets]
        ends = np.cumsum(lengths)
        points = np.repeat(self.start[streets] - ends + lengths, lengths) + np.arange(int(ends[-1]))
        dx = (self.lon[points] - lon) * kx
        dy = (self.lat[points] - lat) * _M_PER_DEG
        return points, np.sqrt(dx * dx + dy * dy)

    def _distinct(
        self,
        points: NDArray[np.int64],
        dist: NDArray[np.float64],
        limit: int,
        kind: MatchType | None,
    ) -> list[Nearby]:
        owner = np.searchsorted(self.end, points, side="right")
        out: list[Nearby] = []
        seen: set[Any] = set()
        for point, street, metres in zip(
            points.tolist(), owner.tolist(), dist.tolist(), strict=True
        ):
            key = self._key(point, street, kind)
            if key in seen:
                continue
            seen.add(key)
            cand = self._candidate(point, street, kind, round(1.0 / (1.0 + metres / 1000.0), 4))
            if cand is not None:
                out.append(Nearby(cand, round(metres, 1)))
            if len(out) >= limit:
                break
        return out

    def _key(self, point: int, street: int, kind: MatchType | None) -> Any:
        """What makes two places one: the point, its street (by name) or its commune."""
        streets = self.geocoder.tables[0]
        if kind is MatchType.STREET:
            return streets.citycode[street], streets.name[street]
        if kind is MatchType.MUNICIPALITY:
            return streets.citycode[street]
        return point

    def _candidate(
        self, point: int, street: int, kind: MatchType | None, score: float
    ) -> Candidate | None:
        """The candidate of a point as asked: the address, its street or its commune."""
        geocoder = self.geocoder
        if kind in (None, MatchType.HOUSENUMBER):
            return geocoder.address_candidate(street, point, score)
        if kind is MatchType.STREET:
            return geocoder.street_candidate(street, None, score)
        if kind is MatchType.MUNICIPALITY:
            return geocoder.commune_candidate(geocoder.tables[0].citycode[street], score)
        return None  # no locality or interpolated point is ever the nearest address


def _cell(degrees: float) -> int:
    return math.floor(degrees / CELL_DEG)


def _key(x: NDArray[Any], y: NDArray[Any]) -> NDArray[np.int64]:
    return (np.asarray(x, dtype=np.int64) + _SHIFT) * (2 * _SHIFT) + (
        np.asarray(y, dtype=np.int64) + _SHIFT
    )


def _street_cells(
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    start: NDArray[np.int64],
    end: NDArray[np.int64],
) -> tuple[NDArray[np.int64], ...]:
    """The box of each street's address points, in cells (streets own contiguous slices)."""
    if not len(start):
        empty = np.empty(0, np.int64)
        return empty, empty, empty, empty
    # reduceat over the starts: each segment runs to the next start, which is the street's
    # end as long as the slices are contiguous; the last runs to the end of its own slice.
    span = slice(int(start[0]), int(end[-1]))
    at = start - start[0]
    boxes = [
        np.floor(reduce.reduceat(values[span], at) / CELL_DEG).astype(np.int64)
        for reduce, values in (
            (np.minimum, lon),
            (np.minimum, lat),
            (np.maximum, lon),
            (np.maximum, lat),
        )
    ]
    return tuple(boxes)


# The reverse index of a geocoder: reverse_index(geocoder), built on first use.
reverse_index: PerGeocoder[ReverseIndex] = PerGeocoder(ReverseIndex)


def reverse_of(geocoders: Iterable[Any]) -> ReverseIndex | None:
    """The reverse index of the first offline geocoder among ``geocoders`` (unwrapped)."""
    local = local_geocoder(geocoders)
    return reverse_index(local) if local is not None else None


def local_geocoder(geocoders: Iterable[Any]) -> LocalGeocoder | None:
    """The offline geocoder among ``geocoders``, seen through wrappers (metrics, fallback)."""
    for geocoder in geocoders:
        inner = geocoder
        while not isinstance(inner, LocalGeocoder):
            inner = getattr(inner, "inner", None) or getattr(inner, "primary", None)
            if inner is None:
                break
        if isinstance(inner, LocalGeocoder):
            return inner
    return None
