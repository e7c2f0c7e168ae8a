"""Search (with autocompletion) and reverse, answered as API Adresse answers them.

Each feature carries the QPV answer for its position, decided as ``/v1/address`` decides it:
the first feature of a search is exactly the answer ``/v1/address`` gives for the same text
(``ambiguous`` when close rivals disagree, ``street_partial``, ``not_found`` below the
minimum score...); each other feature is answered as if it were the only candidate.
"""

from __future__ import annotations

import math
from typing import Any

from pyproj import Geod

from app.addresses import AddressResolver, raise_for_error, validate
from app.adresse import geocodejson
from app.adresse.params import ReverseParams, SearchParams
from app.codes import commune_code
from app.errors import NotReady
from app.geocoding.base import AddressQuery, Candidate, Geocoder, GeocodeResult, MatchType
from app.geocoding.hints import DEFAULT_LIMIT, SearchHints
from app.geocoding.local.complete import Completer, completer
from app.geocoding.local.geocoder import LocalGeocoder
from app.geocoding.local.reverse import local_geocoder, reverse_index

_GEOD = Geod(ellps="GRS80")


class AdresseApi:
    """API Adresse's ``/search/`` and ``/reverse/`` over the service's geocoders."""

    def __init__(self, resolver: AddressResolver) -> None:
        self.resolver = resolver
        self.local: LocalGeocoder | None = local_geocoder(resolver.geocoders.values())

    async def search(self, params: SearchParams) -> dict[str, Any]:
        """A FeatureCollection of the candidates for ``params.q``, best first."""
        query = validate(
            AddressQuery(q=params.q, code_postal=params.postcode, citycode=params.citycode),
            self.resolver.divisions,
        )
        geocoder = self.resolver.geocoder(None)
        # At least /v1/address's candidates, for its rivals to be weighed as it weighs them.
        considered = max(params.limit, DEFAULT_LIMIT)
        result = await geocoder.geocode(query, limit=considered)
        raise_for_error(geocoder, result)
        kept = GeocodeResult([c for c in result.candidates if _passes(c, params)])
        searched = SearchHints(considered, params.type, params.near).apply(kept)
        hints = SearchHints(params.limit, params.type, params.near)
        candidates = searched.candidates[: params.limit]
        complete = self._completer() if params.autocomplete else None
        if complete is not None:
            scope = frozenset([params.citycode]) if params.citycode else None
            typed = query.q or params.q
            completed = [
                c for c in complete.complete(typed, params.limit, scope) if _passes(c, params)
            ]
            candidates = hints.apply(GeocodeResult(_merged(candidates, completed))).candidates
        features = self._features(query, candidates, searched, geocoder, params)
        return geocodejson.collection(
            features, params.limit, params.q, params.filters(), params.near
        )

    def reverse(self, params: ReverseParams) -> dict[str, Any]:
        """A FeatureCollection of the places nearest (lon, lat), nearest first."""
        if self.local is None:
            raise NotReady(
                "reverse geocoding needs the offline geocoder's tables (QPV_GEOCODERS=local)"
            )
        nearby = reverse_index(self.local).nearest(
            params.lon, params.lat, params.limit, params.type
        )
        features = []
        for place in nearby:
            cand = place.candidate
            answer = self.resolver.answer(
                AddressQuery(q=cand.label), GeocodeResult([cand]), self.local,
                params.when.geography, params.when.as_of,
            )  # fmt: skip
            importance = self._importance(cand)
            features.append(geocodejson.feature(cand, answer, importance, place.distance_m))
        filters = {"type": [params.type.value]} if params.type else None
        return geocodejson.collection(features, params.limit, filters=filters)

    def _importance(self, candidate: Candidate) -> float | None:
        """A street's weight on addok's scale (log of its address count), None if unknown."""
        if self.local is None or not candidate.street or candidate.type is MatchType.MUNICIPALITY:
            return None
        n = len(self.local.street_points(candidate)[0])
        return round(min(1.0, math.log10(1 + n) / 3), 4) if n else None

    def _completer(self) -> Completer | None:
        return completer(self.local) if self.local is not None else None

    def _features(
        self,
        query: AddressQuery,
        found: list[Candidate],
        searched: GeocodeResult,
        geocoder: Geocoder,
        params: SearchParams,
    ) -> list[dict[str, Any]]:
        """Each candidate with its QPV answer (the first as /v1/address answers the query)."""
        when = params.when
        features = []
        for j, cand in enumerate(found):
            # The search's best is weighed against its rivals, as /v1/address does; any
            # other candidate (a completion typed further) is answered alone.
            ranked = (
                searched if j == 0 and searched.candidates[:1] == [cand] else GeocodeResult([cand])
            )
            answer = self.resolver.answer(query, ranked, geocoder, when.geography, when.as_of)
            importance = self._importance(cand)
            distance = _metres(cand, params.near) if params.near else None
            features.append(geocodejson.feature(cand, answer, importance, distance))
        return features


def _merged(searched: list[Candidate], completed: list[Candidate]) -> list[Candidate]:
    """Both lists, each place once with its better score, best first."""
    best: dict[tuple[str, str | None], Candidate] = {}
    for cand in [*searched, *completed]:
        key = (cand.label, cand.id)
        if key not in best or cand.score > best[key].score:
            best[key] = cand
    return sorted(best.values(), key=lambda c: -c.score)


def _passes(candidate: Candidate, params: SearchParams) -> bool:
    """API Adresse's postcode and citycode filters: strict, where the search weighs them."""
    if params.postcode and candidate.postcode != params.postcode:
        return False
    codes = (candidate.citycode, commune_code(candidate.citycode or ""))
    return params.citycode is None or params.citycode in codes


def _metres(candidate: Candidate, near: tuple[float, float]) -> float:
    """Metres from the point to prefer (addok's ``distance`` when a point is given)."""
    _, _, metres = _GEOD.inv(near[0], near[1], candidate.lon, candidate.lat)
    return float(metres)
