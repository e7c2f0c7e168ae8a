"""What a caller may add to an address search besides the address: BAN's ``type``,
``limit`` and ``lat``/``lon`` (a point to prefer candidates near), applied to any provider."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from app.geocoding.base import Candidate, GeocodeResult, MatchType

DEFAULT_LIMIT = 5
MAX_LIMIT = 20
# How much being close to the hint point can weigh against score when ordering candidates:
# enough to choose between near-ties (the same street in two communes), never enough to
# put a poor match before a good one.
PROXIMITY_WEIGHT = 0.05
_EARTH_KM = 6371.0


@dataclass(frozen=True, slots=True)
class SearchHints:
    """BAN's search options: candidate count, type filter, proximity point (lon, lat)."""

    limit: int = DEFAULT_LIMIT
    type: MatchType | None = None
    near: tuple[float, float] | None = None

    def apply(self, result: GeocodeResult) -> GeocodeResult:
        """The result filtered by type and ordered with the proximity bonus."""
        candidates = result.candidates
        if self.type is not None:
            candidates = [c for c in candidates if c.type is self.type]
        if self.near is not None and len(candidates) > 1:
            lon, lat = self.near
            candidates = sorted(candidates, key=lambda c: -_weighted(c, lon, lat))
        return replace(result, candidates=candidates[: self.limit])


def _weighted(candidate: Candidate, lon: float, lat: float) -> float:
    """Score plus a bonus falling from PROXIMITY_WEIGHT at the point to half at 10 km."""
    km = _haversine_km(candidate.lon, candidate.lat, lon, lat)
    return candidate.score + PROXIMITY_WEIGHT / (1.0 + km / 10.0)


def _haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(math.sqrt(min(1.0, a)))
