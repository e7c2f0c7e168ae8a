"""Address answers: geocoding by the offline BAN geocoder, then an honest QPV status."""

from __future__ import annotations

from datetime import date

import pytest

from app.addresses import AddressResolver, AddressStatus, validate
from app.errors import InvalidInput
from app.geocoding.base import AddressQuery, Candidate, GeocodeResult, MatchType
from app.geocoding.local import LocalGeocoder
from app.settings import Settings
from app.spatial.geography import Geography
from app.spatial.index import QpvIndex

pytestmark = pytest.mark.anyio
SETTINGS = Settings(geocoders=["local"])
GOUTTE_DOR = (2.35313, 48.88699)  # in QN07511M
CHATELET = (2.3470, 48.8589)  # far from any QPV


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def resolver(qpv_index: QpvIndex, local_geocoder: LocalGeocoder) -> AddressResolver:
    return AddressResolver(qpv_index, {"local": local_geocoder}, SETTINGS)


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"q": "4 rue Eric Tabarly 93140 Bondy"}, "in", "QN09314M"),
        ({"q": "4 rue eric tabarly bondy", "as_of": "2019-05-01"}, "in", "QP093014"),
        ({"numero": "6", "voie": "av Suzanne Buisson", "code_postal": "93140"}, "in", "QN09314M"),
        ({"q": "1 allée Marguerite Duras 93140 Bondy"}, "out", None),
        ({"q": "5 avenue Anatole France 75007 Paris"}, "out", None),
    ],
)
async def test_house_number_addresses_answer_in_or_out_with_the_code(
    resolver: AddressResolver, fields: dict[str, str], status: str, code: str | None
) -> None:
    fields = dict(fields)
    as_of = fields.pop("as_of", None)
    answer = await resolver.resolve(
        AddressQuery(**fields), as_of=date.fromisoformat(as_of) if as_of else None
    )
    assert answer.status.value == status
    assert answer.candidate is not None and answer.candidate.type is MatchType.HOUSENUMBER
    assert answer.point is not None
    assert (answer.point.qpv.code if answer.point.qpv else None) == code


async def test_a_street_partly_in_a_qpv_is_street_partial(resolver: AddressResolver) -> None:
    answer = await resolver.resolve(AddressQuery(q="rue Polonceau 75018 Paris"))
    assert answer.status is AddressStatus.STREET_PARTIAL
    assert answer.street is not None
    assert 0 < answer.street.in_qpv < answer.street.address_points
    assert answer.street.codes == ("QN07511M",)


async def test_a_street_wholly_outside_qpv_is_out(resolver: AddressResolver) -> None:
    answer = await resolver.resolve(AddressQuery(q="avenue Anatole France 75007 Paris"))
    assert answer.status is AddressStatus.OUT
    assert answer.street is not None and answer.street.in_qpv == 0


@pytest.mark.parametrize("as_of", [None, "2017-03-01"])
async def test_a_commune_without_qpv_is_certain_without_an_address_match(
    resolver: AddressResolver, as_of: str | None
) -> None:
    answer = await resolver.resolve(
        AddressQuery(voie="rue de la Paroisse", commune="Versailles", citycode="78646"),
        as_of=date.fromisoformat(as_of) if as_of else None,
    )
    assert answer.status is AddressStatus.COMMUNE_WITHOUT_QPV
    assert answer.geo.geography is (Geography.QPV2015 if as_of else Geography.QPV2024)


async def test_only_a_commune_with_qpv_is_not_found(resolver: AddressResolver) -> None:
    answer = await resolver.resolve(AddressQuery(q="Bondy"))
    assert answer.status is AddressStatus.NOT_FOUND
    assert answer.candidate is not None and answer.candidate.type is MatchType.MUNICIPALITY


async def test_nothing_above_the_minimum_score_is_not_found(resolver: AddressResolver) -> None:
    answer = await resolver.resolve(AddressQuery(q="zzzz qqqq wwww"))
    assert answer.status is AddressStatus.NOT_FOUND
    assert answer.candidate is None


def _candidate(lon_lat: tuple[float, float], score: float, label: str) -> Candidate:
    return Candidate(label, score, MatchType.HOUSENUMBER, *lon_lat, citycode="75118")


@pytest.mark.parametrize(
    ("second", "score", "status"),
    [
        (CHATELET, 0.79, AddressStatus.AMBIGUOUS),  # close score, other place, other answer
        (CHATELET, 0.60, AddressStatus.IN),  # clearly lower score
        ((2.35320, 48.88695), 0.79, AddressStatus.IN),  # close score, same QPV answer
    ],
)
def test_close_candidates_with_different_answers_are_ambiguous(
    resolver: AddressResolver, second: tuple[float, float], score: float, status: AddressStatus
) -> None:
    result = GeocodeResult([_candidate(GOUTTE_DOR, 0.80, "A"), _candidate(second, score, "B")])
    answer = resolver.answer(AddressQuery(q="x"), result, resolver.geocoder(None))
    assert answer.status is status
    assert len(answer.alternatives) == (1 if status is AddressStatus.AMBIGUOUS else 0)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (AddressQuery(q=""), "give q"),
        (AddressQuery(q="   "), "give q"),
        (AddressQuery(), "give q"),
        (AddressQuery(q="x" * 5000), "longer than"),
        (AddressQuery(q="12 rue\x00 de Paris"), "control characters"),
        (AddressQuery(q="12 rue de Paris", code_postal="00000"), "not a French postcode"),
        (AddressQuery(q="12 rue de Paris", code_postal="99999"), "not a French postcode"),
        (AddressQuery(q="12 rue de Paris", code_postal="7501"), "not a French postcode"),
        (AddressQuery(q="12 rue de Paris", citycode="ABCDE"), "not an INSEE"),
    ],
)
def test_bad_input_is_refused(query: AddressQuery, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate(query)


def test_an_unknown_provider_is_refused(resolver: AddressResolver) -> None:
    with pytest.raises(InvalidInput, match="provider must be one of"):
        resolver.geocoder("google")


def test_a_street_without_known_address_points_says_it_was_answered_at_one_point(
    resolver: AddressResolver,
) -> None:
    street = Candidate(
        "Rue Imaginaire 75018 Paris",
        0.8,
        MatchType.STREET,
        *GOUTTE_DOR,
        citycode="75118",
        street="Rue Imaginaire",
    )
    answer = resolver.answer(AddressQuery(q="x"), GeocodeResult([street]), resolver.geocoder(None))
    assert answer.status is AddressStatus.IN
    assert answer.street is None
    assert answer.reason.startswith("Street-level match whose address points are not known")


@pytest.mark.parametrize(
    ("query", "status", "code", "said"),
    [
        # Issue 9: a misspelt street inside the postcode given.
        (AddressQuery(q="2 rue polonso 75018 paris"), "in", "QN07511M", None),
        (AddressQuery(q="2 rue polonso", code_postal="75018"), "in", "QN07511M", None),
        # The real street in the neighbouring arrondissement, and the answer says so.
        (AddressQuery(q="243 Rue Marcadet 75008 Paris"), "out", None, "Postcode 75008 given"),
        (AddressQuery(q="10 Rue François Villon 75016 Paris"), "out", None, "Postcode 75016"),
        # No commune at all.
        (AddressQuery(q="159 Avenue de France"), "out", None, None),
        # "bis" that does not exist: said, not dropped silently.
        (AddressQuery(q="5 bis rue de la Chapelle 75018 Paris"), "out", None, "5bis is not"),
        # Numbers missing from the BAN, placed between 179 and 187 (both in QN09312I).
        (AddressQuery(q="183 rue Edouard Vaillant 93140 Bondy"), "in", "QN09312I", "183 is not"),
        (AddressQuery(q="185 rue Edouard Vaillant 93140 Bondy"), "in", "QN09312I", "185 is not"),
    ],
)
async def test_addresses_as_people_write_them(
    resolver: AddressResolver, query: AddressQuery, status: str, code: str | None, said: str | None
) -> None:
    answer = await resolver.resolve(query)
    assert answer.status.value == status
    assert answer.point is not None
    assert (answer.point.qpv.code if answer.point.inside and answer.point.qpv else None) == code
    if said is not None:
        assert answer.reason.startswith(said)


async def test_an_interpolated_number_reports_its_street_spread(resolver: AddressResolver) -> None:
    answer = await resolver.resolve(AddressQuery(q="183 rue Edouard Vaillant 93140 Bondy"))
    assert answer.candidate is not None and answer.candidate.type is MatchType.INTERPOLATED
    assert answer.street is not None and answer.street.codes == ("QN09312I",)
    assert "placed between its neighbours on the street, which get the same answer" in (
        answer.reason
    )


def test_an_interpolated_number_whose_neighbours_disagree_is_street_partial(
    resolver: AddressResolver,
) -> None:
    placed = Candidate(
        "3 Rue Imaginaire 75018 Paris",
        0.82,
        MatchType.INTERPOLATED,
        *GOUTTE_DOR,
        citycode="75118",
        street="Rue Imaginaire",
        bounds=(GOUTTE_DOR, CHATELET),
    )
    answer = resolver.answer(AddressQuery(q="x"), GeocodeResult([placed]), resolver.geocoder(None))
    assert answer.status is AddressStatus.STREET_PARTIAL
    assert "different sides of a QPV boundary (QN07511M, outside)" in answer.reason


async def test_a_commune_not_covered_is_named_in_the_reason(resolver: AddressResolver) -> None:
    answer = await resolver.resolve(AddressQuery(q="12 rue de la République 13001 Marseille"))
    assert answer.status is AddressStatus.NOT_FOUND
    assert answer.reason.startswith("The local geocoder's tables do not cover postcode 13001")


@pytest.mark.parametrize(
    ("q", "status", "alternatives"),
    [
        # Paris 19e and Bondy both have a 5 rue de Meaux, one in a QPV and one not.
        ("5 rue de Meaux", AddressStatus.AMBIGUOUS, ["5 Rue de Meaux 75019 Paris"]),
        # Both 7 rue de l'Égalité are outside every QPV: one answer, and the reason says why.
        ("7 rue de l'Égalité", AddressStatus.OUT, []),
    ],
)
async def test_the_same_address_in_several_communes_without_commune(
    resolver: AddressResolver, q: str, status: AddressStatus, alternatives: list[str]
) -> None:
    answer = await resolver.resolve(AddressQuery(q=q))
    assert answer.status is status
    assert [c.label for c, _ in answer.alternatives] == alternatives
    assert answer.reason.startswith(
        "No postcode or commune given, and the same address exists in 2 communes "
        "(75019 Paris, 93140 Bondy)"
    )
