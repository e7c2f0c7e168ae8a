"""The Geocoder protocol and the values every provider speaks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeGuard, runtime_checkable

import numpy as np
from numpy.typing import NDArray


class MatchType(StrEnum):
    """How precise a candidate is, in BAN's vocabulary."""

    HOUSENUMBER = "housenumber"
    INTERPOLATED = "interpolated"  # a number missing from the BAN, placed between its neighbours
    STREET = "street"
    LOCALITY = "locality"
    MUNICIPALITY = "municipality"


@dataclass(frozen=True, slots=True)
class AddressQuery:
    """One address: free text ``q`` and/or structured fields (BAN conventions)."""

    q: str | None = None
    numero: str | None = None
    voie: str | None = None
    code_postal: str | None = None
    commune: str | None = None
    citycode: str | None = None
    # Lines recognised around the address and left out of the search (flat, building, BP,
    # CEDEX...: see app/geocoding/lines.py), for the answer to say so.
    set_aside: tuple[str, ...] = ()

    def text(self) -> str:
        """The free-text form sent to search engines: ``q`` or the fields joined."""
        if self.q:
            return self.q
        parts = [self.numero, self.voie, self.code_postal, self.commune]
        return " ".join(p.strip() for p in parts if p and p.strip())


class NoteKind(StrEnum):
    """What a candidate matched differently from what was asked."""

    COMMUNE_DIFFERS = "commune_differs"  # found outside the postcode / citycode / commune given
    INDEX_DIFFERS = "index_differs"  # "5 bis" asked, only "5" exists (or the reverse)
    NUMBER_INTERPOLATED = "number_interpolated"  # number not in the BAN: placed by its neighbours
    NUMBER_MISSING = "number_missing"  # number not in the BAN: the street only
    SEVERAL_COMMUNES = "several_communes"  # no commune given: the same address in several


@dataclass(frozen=True, slots=True)
class MatchNote:
    """One thing a candidate matched differently from the query, said in words."""

    kind: NoteKind
    detail: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ranked geocoding candidate."""

    label: str
    score: float  # 0..1, comparable across providers (BAN's scale)
    type: MatchType
    lon: float
    lat: float
    citycode: str | None = None
    postcode: str | None = None
    city: str | None = None
    street: str | None = None
    housenumber: str | None = None
    id: str | None = None  # BAN identifier when known (street or address)
    notes: tuple[MatchNote, ...] = ()
    # Interpolated numbers: the (lon, lat) of the neighbours the point was placed between.
    bounds: tuple[tuple[float, float], ...] = ()


class GeocodeErrorKind(StrEnum):
    """Why a provider could not answer one request."""

    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    UPSTREAM = "upstream_error"
    BAD_RESPONSE = "bad_response"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """A provider's answer to one query: ranked candidates, or an error for that query."""

    candidates: list[Candidate] = field(default_factory=list)
    error: GeocodeErrorKind | None = None
    error_detail: str | None = None  # never contains the address itself
    # Why there is no candidate when the place is outside the provider's coverage
    # ("the local tables do not cover postcode 13001"), and the provider that answered
    # instead when the query was passed on to another (see app/geocoding/fallback.py).
    uncovered: str | None = None
    provider: str | None = None

    @property
    def best(self) -> Candidate | None:
        """The top candidate, if any."""
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can do beyond the calls of the protocol, said by the provider itself.

    Callers read these rather than test ``isinstance`` against a Protocol: a wrapper (the
    metered one) passes them on, whereas ``isinstance`` does not see through its
    ``__getattr__`` on Python 3.12 and later.
    """

    in_process: bool = False  # answers synchronously in this process: ``result(query, limit)``
    street_points: bool = False  # knows a street's address points: ``street_points(candidate)``
    bulk: bool = False  # answers many queries in a few requests (BAN's /search/csv)


@runtime_checkable
class Geocoder(Protocol):
    """Turns addresses into ranked candidates; one call for one address, one for many."""

    name: str
    capabilities: Capabilities

    async def geocode(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        """Geocode one address."""
        ...

    async def geocode_many(
        self, queries: Sequence[AddressQuery], limit: int = 1
    ) -> list[GeocodeResult]:
        """Geocode many addresses; the results are in the order of the queries."""
        ...

    async def aclose(self) -> None:
        """Release connections and other resources."""
        ...


class InProcessGeocoder(Geocoder, Protocol):
    """A geocoder that answers synchronously in this process (the ``local`` provider)."""

    def result(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        """The candidates of one query, computed now (CPU work: keep it off the event loop)."""
        ...


class StreetPointsGeocoder(Geocoder, Protocol):
    """A geocoder that knows the address points of a street (the ``local`` provider)."""

    def street_points(
        self, candidate: Candidate
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Lon/lat arrays of every address point of the candidate's street."""
        ...


def in_process(geocoder: Geocoder) -> TypeGuard[InProcessGeocoder]:
    """Whether ``geocoder`` answers synchronously in this process (``result``)."""
    return geocoder.capabilities.in_process


def knows_streets(geocoder: Geocoder) -> TypeGuard[StreetPointsGeocoder]:
    """Whether ``geocoder`` knows the address points of a street (``street_points``)."""
    return geocoder.capabilities.street_points
