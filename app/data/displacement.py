"""Where the quartiers of a new file lie, compared with the same codes in the dataset in use.

Counts and areas miss a file whose quartiers are all there, the same size, but elsewhere:
one quartier moved 50 km, or every quartier 2 km north (a CRS or datum mistake). Each
quartier in both is compared by the shift of its centroid and, when that shift is large, by
the share of its shape that no longer overlaps its old one. A real redrawing moves centroids
far only where a quartier grew over its old ground, and moves a quartier off its old ground
only to a neighbouring place (the 2015 -> 2024 redrawing, in the settings' defaults).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.affinity import translate

# Metres per degree (of latitude; of longitude at the equator): precise to 0.3 % in France,
# enough to tell 2 km from 20 m.
M_PER_DEGREE = 111_320.0
# Fewer quartiers in common than this cannot show a shift of the whole geography.
MIN_FOR_COMMON_SHIFT = 3
_DIRECTIONS = (
    "east",
    "north-east",
    "north",
    "north-west",
    "west",
    "south-west",
    "south",
    "south-east",
)


def distance_text(metres: float) -> str:
    """``840 m`` or ``2.0 km``."""
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def direction(east_m: float, north_m: float) -> str:
    """The nearest of the eight compass points."""
    octant = round(math.atan2(north_m, east_m) / (math.pi / 4)) % 8
    return _DIRECTIONS[octant]


@dataclass(frozen=True, slots=True)
class Move:
    """How far one quartier's centroid moved, and how much of its shape left its old one."""

    code: str
    east_m: float
    north_m: float
    # The share of the smaller of the old and new shapes outside the other (0: it still lies
    # on or over its old ground, whatever its growth; 1: nothing in common); None: not measured.
    overlap_lost: float | None = None

    @property
    def distance_m(self) -> float:
        """The centroid's shift in metres."""
        return math.hypot(self.east_m, self.north_m)

    def __str__(self) -> str:
        where = direction(self.east_m, self.north_m)
        text = f"{self.code} {distance_text(self.distance_m)} {where}"
        if self.overlap_lost is None:
            return text
        if self.overlap_lost >= 0.999:
            return f"{text}, no overlap left"
        return f"{text}, {self.overlap_lost:.0%} off its old shape"


@dataclass(frozen=True, slots=True)
class Shift:
    """A displacement shared by most quartiers: the whole geography moved."""

    east_m: float
    north_m: float
    agreeing: int  # quartiers that moved by about this much
    compared: int  # quartiers in both datasets

    def __str__(self) -> str:
        who = (
            "every quartier"
            if self.agreeing == self.compared
            else f"{self.agreeing} of {self.compared} quartiers"
        )
        distance = distance_text(math.hypot(self.east_m, self.north_m))
        return (
            f"{who} moved {distance} {direction(self.east_m, self.north_m)}: "
            "a CRS or datum mistake?"
        )


@dataclass(frozen=True, slots=True)
class Displacements:
    """The displacement of the quartiers in both datasets, and which pass the limits."""

    compared: int
    shift: Shift | None  # past the common-shift limit
    moved: tuple[Move, ...]  # past the per-quartier limits (beyond the common shift)
    largest: tuple[Move, ...]  # the largest centroid shifts (1 m or more), for the report


def displacements(
    old: Mapping[str, shapely.Geometry],
    new: Mapping[str, shapely.Geometry],
    *,
    max_centroid_shift_m: float,
    max_overlap_lost: float,
    max_common_shift_m: float,
) -> Displacements:
    """Compare each quartier of ``new`` with the same code in ``old`` (WGS84 geometries)."""
    codes = sorted(old.keys() & new.keys())
    before = np.array([old[code] for code in codes], dtype=object)
    after = np.array([new[code] for code in codes], dtype=object)
    east, north = _centroid_shifts(before, after)
    shift = _common_shift(east, north, max_common_shift_m)
    common = (shift.east_m, shift.north_m) if shift is not None else (0.0, 0.0)
    # Beyond the shift reported once: which quartiers went far, and left their old ground?
    far = np.flatnonzero(np.hypot(east - common[0], north - common[1]) > max_centroid_shift_m)
    lost = _overlap_lost(before[far], _moved_back(after[far], *common))
    moved = tuple(
        Move(codes[i], float(east[i]), float(north[i]), float(share))
        for i, share in zip(far, lost, strict=True)
        if share > max_overlap_lost
    )
    distances = np.hypot(east, north)
    largest = tuple(
        Move(codes[i], float(east[i]), float(north[i]))
        for i in np.argsort(-distances, kind="stable")[:3]
        if distances[i] >= 1
    )
    return Displacements(len(codes), shift, moved, largest)


def _centroid_shifts(
    before: NDArray[np.object_], after: NDArray[np.object_]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each centroid's shift east and north, in metres at its latitude."""
    start, end = shapely.centroid(before), shapely.centroid(after)
    latitude = np.radians(shapely.get_y(start)) if len(before) else np.zeros(0)
    east = (shapely.get_x(end) - shapely.get_x(start)) * M_PER_DEGREE * np.cos(latitude)
    north = (shapely.get_y(end) - shapely.get_y(start)) * M_PER_DEGREE
    return np.asarray(east, dtype=np.float64), np.asarray(north, dtype=np.float64)


def _common_shift(
    east: NDArray[np.float64], north: NDArray[np.float64], limit_m: float
) -> Shift | None:
    """The median displacement, when it is past the limit and most quartiers share it."""
    if east.size < MIN_FOR_COMMON_SHIFT:
        return None
    median_east, median_north = float(np.median(east)), float(np.median(north))
    size = math.hypot(median_east, median_north)
    if size <= limit_m:
        return None
    spread = np.hypot(east - median_east, north - median_north)
    agreeing = int(np.count_nonzero(spread <= max(limit_m, size / 10)))
    if 2 * agreeing < east.size:
        return None  # scattered moves (a redrawing): each quartier is judged on its own
    return Shift(median_east, median_north, agreeing, int(east.size))


def _moved_back(geoms: NDArray[np.object_], east_m: float, north_m: float) -> NDArray[np.object_]:
    """The geometries moved back by a common shift (metres, at each one's latitude)."""
    if not (east_m or north_m) or not len(geoms):
        return geoms
    latitudes = np.radians(shapely.get_y(shapely.centroid(geoms)))
    back = [
        translate(geom, -east_m / (M_PER_DEGREE * math.cos(lat)), -north_m / M_PER_DEGREE)
        for geom, lat in zip(geoms, latitudes, strict=True)
    ]
    return np.array(back, dtype=object)


def _overlap_lost(before: NDArray[np.object_], after: NDArray[np.object_]) -> NDArray[np.float64]:
    """The share of the smaller of each pair of shapes that lies outside the other."""
    if not len(before):
        return np.zeros(0)
    shared = shapely.area(shapely.intersection(before, after))
    smaller = np.minimum(shapely.area(before), shapely.area(after))
    return np.asarray(1 - shared / np.maximum(smaller, 1e-30), dtype=np.float64)
