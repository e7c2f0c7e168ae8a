"""The Geocoder protocol and the values every provider speaks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


class MatchType(StrEnum):
    """How precise a candidate is, in BAN's vocabulary."""

    HOUSENUMBER = "housenumber"
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

    @property
    def best(self) -> Candidate | None:
        """The top candidate, if any."""
        return self.candidates[0] if self.candidates else None


@runtime_checkable
class Geocoder(Protocol):
    """Turns addresses into ranked candidates; one call for one address, one for many."""

    name: str

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
