"""Address -> geocoder -> QPV answer, with a status that says how sure the answer is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

import numpy as np
from pyproj import Geod

from app.codes import citycode_problem, departement_of_citycode, postcode_problem
from app.divisions import AdminDivisions
from app.errors import InvalidInput, NotReady, UnknownDepartement, UpstreamError, echo
from app.geocoding.base import (
    AddressQuery,
    Candidate,
    Geocoder,
    GeocodeResult,
    MatchType,
    knows_streets,
)
from app.geocoding.fallback import CoverageFallback
from app.geocoding.hints import SearchHints
from app.geocoding.lines import clean_query
from app.settings import Settings
from app.spatial.geography import Geography
from app.spatial.index import GeographyIndex, PointAnswer, QpvIndex
from app.spatial.territories import Territory, territory_of_departement, territory_of_point

MAX_QUERY_CHARS = 250
# Tab, line feed and carriage return are allowed: addresses come on several lines (AFNOR).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_GEOD = Geod(ellps="GRS80")


class AddressStatus(StrEnum):
    """Status of an address answer."""

    IN = "in"
    OUT = "out"
    NEAR_BOUNDARY = "near_boundary"
    COMMUNE_WITHOUT_QPV = "commune_without_qpv"
    STREET_PARTIAL = "street_partial"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class StreetSpread:
    """How a street's BAN address points fall with respect to QPV."""

    address_points: int
    in_qpv: int
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AddressAnswer:
    """The answer for one address."""

    status: AddressStatus
    reason: str
    provider: str
    geo: GeographyIndex  # the geography (and dataset) the answer was computed in
    candidate: Candidate | None = None
    point: PointAnswer | None = None  # the QPV answer at the candidate's position
    street: StreetSpread | None = None
    alternatives: tuple[tuple[Candidate, PointAnswer], ...] = field(default_factory=tuple)
    set_aside: tuple[str, ...] = ()  # lines left out of the search (flat, building, CEDEX...)


def validate(query: AddressQuery, divisions: AdminDivisions | None = None) -> AddressQuery:
    """Refuse empty, oversized, binary or malformed input, and (with the administrative
    divisions) postcodes and INSEE codes that do not exist; return the query trimmed, its
    extra lines (flat, building, BP, CEDEX...) set aside."""
    for name, value in _stripped(query).items():
        if value is None:
            continue
        if len(value) > MAX_QUERY_CHARS:
            raise InvalidInput(f"{name} is longer than {MAX_QUERY_CHARS} characters")
        if _CONTROL.search(value):
            raise InvalidInput(f"{name} contains control characters")
    query = clean_query(query, divisions.knows_postcode if divisions is not None else None)
    fields = _stripped(query)
    if not (
        fields["q"]
        or fields["voie"]
        or fields["commune"]
        or fields["citycode"]
        or fields["code_postal"]
    ):
        raise InvalidInput("give q (free text) or at least voie, commune, code_postal or citycode")
    postcode = fields["code_postal"]
    if postcode and (problem := postcode_problem(postcode, divisions)):
        raise InvalidInput(f"code_postal {echo(postcode)} {problem}")
    citycode = (fields["citycode"] or "").upper() or None
    if citycode and (problem := citycode_problem(citycode, divisions)):
        raise InvalidInput(f"citycode {echo(citycode)} {problem}")
    return AddressQuery(
        q=fields["q"] or None,
        numero=fields["numero"] or None,
        voie=fields["voie"] or None,
        code_postal=postcode or None,
        commune=fields["commune"] or None,
        citycode=citycode,
        set_aside=query.set_aside,
    )


def _stripped(query: AddressQuery) -> dict[str, str | None]:
    return {
        name: (value.strip() if value is not None else None)
        for name, value in (
            ("q", query.q),
            ("numero", query.numero),
            ("voie", query.voie),
            ("code_postal", query.code_postal),
            ("commune", query.commune),
            ("citycode", query.citycode),
        )
    }


class AddressResolver:
    """Geocodes an address and answers it against the QPV index."""

    def __init__(
        self,
        index: QpvIndex,
        geocoders: Mapping[str, Geocoder],
        settings: Settings,
        divisions: AdminDivisions | None = None,
    ) -> None:
        self.index = index
        self.geocoders = geocoders
        self.settings = settings
        self.divisions = divisions
        # The default provider is the first configured, backed by the second for the
        # communes the first does not cover (local tables, then BAN).
        providers = list(geocoders.values())
        self._default: Geocoder | None = (
            CoverageFallback(providers[0], providers[1])
            if len(providers) > 1
            else (providers[0] if providers else None)
        )

    def geocoder(self, provider: str | None) -> Geocoder:
        """The named provider, or the default (the first configured, backed by the next)."""
        if self._default is None:
            # The request is fine; this service cannot answer it (set-up, not the caller).
            raise NotReady("no geocoder is loaded on this service (QPV_GEOCODERS)")
        if provider is None:
            return self._default
        try:
            return self.geocoders[provider]
        except KeyError:
            raise InvalidInput(
                f"provider must be one of {sorted(self.geocoders)}, not {echo(provider)}"
            ) from None

    async def resolve(
        self,
        query: AddressQuery,
        provider: str | None = None,
        geography: Geography | None = None,
        as_of: date | None = None,
        hints: SearchHints | None = None,
    ) -> AddressAnswer:
        """Validate, geocode and answer one address (``hints``: BAN's type, limit, lat/lon)."""
        query = validate(query, self.divisions)
        geocoder = self.geocoder(provider)
        hints = hints or SearchHints()
        result = await geocoder.geocode(query, limit=hints.limit)
        raise_for_error(geocoder, result)
        answer = self.answer(query, hints.apply(result), geocoder, geography, as_of)
        return replace(answer, set_aside=query.set_aside) if query.set_aside else answer

    def answer(
        self,
        query: AddressQuery,
        result: GeocodeResult,
        geocoder: Geocoder,
        geography: Geography | None = None,
        as_of: date | None = None,
        point: PointAnswer | None = None,
    ) -> AddressAnswer:
        """Turn a geocoding result into an address answer (also used by batches).

        ``point``: the answer at the best candidate when the caller already has it (batches
        look a whole block up at once); used only if it is in the geography chosen here.
        """
        good = [c for c in result.candidates if c.score >= self.settings.geocoder_min_score]
        best = good[0] if good else None
        # The commune is known even when the address is not: a low-scoring municipality
        # candidate (street not found) still identifies it by postcode or name.
        commune = best or next(
            (c for c in result.candidates if c.type is MatchType.MUNICIPALITY), None
        )
        geo = self.index.choose(geography, as_of, _territory(commune, query))
        if best is None:
            point = None
        elif point is None or point.geography != geo.geography:
            point = geo.lookup(best.lon, best.lat, self.settings.boundary_tolerance_m)
        provider = result.provider or geocoder.name
        without_qpv = self._commune_without_qpv(query, commune, best, geo, provider, point)
        if without_qpv is not None:
            return _explained(without_qpv, result)
        if best is None:
            reason = "No geocoding candidate reached the minimum score "
            reason += f"{self.settings.geocoder_min_score:g}."
            if result.uncovered:
                reason = (
                    f"{result.uncovered}; the {provider} geocoder it was passed on to: {reason}"
                    if result.provider
                    else f"{result.uncovered}; {self._elsewhere()}."
                )
            return AddressAnswer(
                status=AddressStatus.NOT_FOUND, reason=reason, provider=provider, geo=geo
            )
        assert point is not None
        return _explained(self._located(best, good[1:], geo, provider, point), result)

    def _elsewhere(self) -> str:
        """Where an address outside the default provider's coverage could be answered."""
        if len(self.geocoders) > 1:
            return "leave provider= out to pass such addresses on to the next geocoder"
        return "no other geocoder is configured (QPV_GEOCODERS=local,ban passes them to ban)"

    def _commune_without_qpv(
        self,
        query: AddressQuery,
        commune: Candidate | None,
        best: Candidate | None,
        geo: GeographyIndex,
        provider: str,
        point: PointAnswer | None,
    ) -> AddressAnswer | None:
        """The answer when the commune has no QPV, unless the point says otherwise."""
        citycode = commune.citycode if commune else query.citycode
        city = commune.city if commune else query.commune
        if geo.communes.has_qpv(citycode, city) is not False:
            return None
        if point is not None and point.inside:
            return None  # a point inside a QPV outweighs the commune list
        return AddressAnswer(
            status=AddressStatus.COMMUNE_WITHOUT_QPV,
            reason=f"The commune {city or citycode} has no QPV in the {geo.geography} geography.",
            provider=provider,
            geo=geo,
            candidate=best,
            point=point,
        )

    def _located(
        self,
        best: Candidate,
        others: list[Candidate],
        geo: GeographyIndex,
        provider: str,
        point: PointAnswer,
    ) -> AddressAnswer:
        """The answer for a candidate above the minimum score, at its position."""
        rivals = self._rivals(best, others, geo, point)
        if rivals:
            return AddressAnswer(
                status=AddressStatus.AMBIGUOUS,
                reason=f"{len(rivals) + 1} candidates score within "
                f"{self.settings.ambiguity_score_margin:g} of each other, in different places "
                "with different QPV answers.",
                provider=provider,
                geo=geo,
                candidate=best,
                point=point,
                alternatives=rivals,
            )
        if best.type in (MatchType.MUNICIPALITY, MatchType.LOCALITY):
            return AddressAnswer(
                status=AddressStatus.NOT_FOUND,
                reason=f"Only the {best.type.value} was found, and it has QPV: the address "
                "cannot be placed precisely enough.",
                provider=provider,
                geo=geo,
                candidate=best,
                point=point,
            )
        if best.type is MatchType.INTERPOLATED:
            return self._interpolated(best, provider, geo, point)
        reason = point.reason
        if best.type is MatchType.STREET:
            street = self._street(best, geo)
            if street is not None:
                return _street_answer(street, provider, geo, best, point)
            reason = (
                "Street-level match whose address points are not known here: answered at "
                f"the street's reference point. {reason}"
            )
        return AddressAnswer(
            status=AddressStatus(point.status.value),
            reason=reason,
            provider=provider,
            geo=geo,
            candidate=best,
            point=point,
        )

    def _rivals(
        self,
        best: Candidate,
        others: list[Candidate],
        geo: GeographyIndex,
        point: PointAnswer,
    ) -> tuple[tuple[Candidate, PointAnswer], ...]:
        """Close-scoring candidates far from the best one whose QPV answer differs."""
        rivals = []
        for other in others:
            if best.score - other.score > self.settings.ambiguity_score_margin:
                break
            _, _, metres = _GEOD.inv(best.lon, best.lat, other.lon, other.lat)
            if metres <= self.settings.ambiguity_distance_m:
                continue
            answer = geo.lookup(other.lon, other.lat, self.settings.boundary_tolerance_m)
            if _qpv_key(answer) != _qpv_key(point):
                rivals.append((other, answer))
        return tuple(rivals)

    def _interpolated(
        self, best: Candidate, provider: str, geo: GeographyIndex, point: PointAnswer
    ) -> AddressAnswer:
        """A number placed between its neighbours: sure only if they agree with the point."""
        tolerance = self.settings.boundary_tolerance_m
        ends = [geo.lookup(lon, lat, tolerance) for lon, lat in best.bounds]
        street = self._street(best, geo)
        if all(_qpv_key(e) == _qpv_key(point) for e in ends):
            status = AddressStatus(point.status.value)
            reason = (
                "House number placed between its neighbours on the street, which get the "
                f"same answer. {point.reason}"
            )
        else:
            status = AddressStatus.STREET_PARTIAL
            sides = ", ".join(e.qpv.code if e.inside and e.qpv else "outside" for e in ends)
            reason = (
                "House number placed between its neighbours on the street, which fall on "
                f"different sides of a QPV boundary ({sides}): check the address. "
                f"At the placed point: {point.reason}"
            )
        return AddressAnswer(status, reason, provider, geo, best, point, street)

    def _street(self, candidate: Candidate, geo: GeographyIndex) -> StreetSpread | None:
        """Tag every address point of the candidate's street, when a provider knows them."""
        for geocoder in self.geocoders.values():
            if knows_streets(geocoder):
                lon, lat = geocoder.street_points(candidate)
                if len(lon):
                    ids = geo.tag(lon, lat)
                    inside = ids[ids >= 0]
                    codes = tuple(sorted({geo.infos[i].code for i in np.unique(inside)}))
                    return StreetSpread(len(lon), int(inside.size), codes)
        return None


def raise_for_error(geocoder: Geocoder, result: GeocodeResult) -> None:
    """UpstreamError when the provider failed for this query (a 502: not the caller's fault)."""
    if result.error is not None:
        raise UpstreamError(
            f"the {geocoder.name} geocoder failed: {result.error.value}",
            provider=geocoder.name,
            error=result.error.value,
        )


def _street_answer(
    street: StreetSpread, name: str, geo: GeographyIndex, best: Candidate, point: PointAnswer
) -> AddressAnswer:
    n, k = street.address_points, street.in_qpv
    if k == 0:
        status, reason = (
            AddressStatus.OUT,
            f"Street-level match: none of its {n} address points is in a QPV.",
        )
    elif k == n and len(street.codes) == 1:
        status = AddressStatus.IN
        reason = f"Street-level match: all {n} address points are in {street.codes[0]}."
    else:
        status = AddressStatus.STREET_PARTIAL
        reason = (
            f"Street-level match: {k} of its {n} address points are in a QPV "
            f"({', '.join(street.codes)}); give the house number to decide."
        )
    return AddressAnswer(
        status=status,
        reason=reason,
        provider=name,
        geo=geo,
        candidate=best,
        point=point,
        street=street,
    )


def _explained(answer: AddressAnswer, result: GeocodeResult) -> AddressAnswer:
    """The answer with what the geocoder matched differently, and any fallback, said first."""
    said = [n.detail for n in answer.candidate.notes] if answer.candidate else []
    if result.uncovered and result.provider:
        said.insert(0, f"{result.uncovered}: answered by the {result.provider} geocoder")
    if not said:
        return answer
    text = "; ".join(d[0].upper() + d[1:] for d in said)
    return replace(answer, reason=f"{text}. {answer.reason}")


def _qpv_key(answer: PointAnswer) -> tuple[bool, str | None]:
    return answer.inside, answer.qpv.code if answer.qpv else None


def _territory(candidate: Candidate | None, query: AddressQuery) -> Territory | None:
    if candidate is not None:
        return territory_of_point(candidate.lon, candidate.lat)
    if query.citycode:
        try:
            return territory_of_departement(departement_of_citycode(query.citycode))
        except UnknownDepartement:
            return None
    return None
