"""A provider backed by another for the places it does not cover (local tables, then BAN)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app.geocoding.base import AddressQuery, Capabilities, Geocoder, GeocodeResult


class CoverageFallback:
    """Asks ``primary``; a query naming a commune outside its coverage goes to ``fallback``.

    Only queries the primary says it does not cover (``GeocodeResult.uncovered``) are passed
    on: an address that the primary covers and does not find stays not found. The results
    passed on name the provider that answered and keep the coverage reason.
    """

    def __init__(self, primary: Geocoder, fallback: Geocoder) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name
        self.capabilities = Capabilities()  # geocode and geocode_many only (see .primary)

    async def geocode(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        """Geocode one address, passed on when the primary does not cover its commune."""
        result = await self.primary.geocode(query, limit)
        return (await self.complete([query], [result], limit))[0]

    async def geocode_many(
        self, queries: Sequence[AddressQuery], limit: int = 1
    ) -> list[GeocodeResult]:
        """Geocode many addresses in order, the uncovered ones by the fallback in one call."""
        results = await self.primary.geocode_many(queries, limit)
        return await self.complete(queries, results, limit)

    async def complete(
        self, queries: Sequence[AddressQuery], results: Sequence[GeocodeResult], limit: int = 1
    ) -> list[GeocodeResult]:
        """The primary's results with the uncovered ones answered by the fallback."""
        out = list(results)
        todo = [i for i, r in enumerate(out) if r.uncovered and not r.candidates]
        if not todo:
            return out
        answers = await self.fallback.geocode_many([queries[i] for i in todo], limit)
        for i, answer in zip(todo, answers, strict=True):
            out[i] = replace(answer, provider=self.fallback.name, uncovered=out[i].uncovered)
        return out

    async def aclose(self) -> None:
        """Nothing of its own: the providers are closed by their owner."""
