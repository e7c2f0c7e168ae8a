"""French administrative codes: the one module every check asks."""

from __future__ import annotations

import pytest

from app.codes import (
    DEPARTEMENTS,
    arrondissement_postcode,
    citycode_problem,
    commune_code,
    departement_of_citycode,
    departement_of_padded,
    is_insee_code,
    is_postcode,
    postcode_problem,
)
from app.divisions import AdminDivisions, CommuneEntry, CommuneKind, DivisionsInfo


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("93010", True),
        ("2A004", True),
        ("2B033", True),
        ("97411", True),
        ("2C004", False),
        ("9301", False),
        ("930100", False),
        ("2a004", False),
        ("", False),
    ],
)
def test_an_insee_code_has_five_digits_or_a_corsican_letter(code: str, valid: bool) -> None:
    assert is_insee_code(code) is valid


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("75018", True),
        ("20000", True),
        ("97400", True),
        ("98800", True),
        ("00100", False),
        ("96100", False),
        ("99100", False),
        ("7501", False),
        ("750180", False),
        ("7501A", False),
    ],
)
def test_a_postcode_starts_with_a_possible_departement(code: str, valid: bool) -> None:
    assert is_postcode(code) is valid


@pytest.mark.parametrize(
    ("citycode", "departement"),
    [("93010", "93"), ("2A004", "2A"), ("97411", "974"), ("98735", "987"), ("01001", "01")],
)
def test_the_departement_of_a_commune_code(citycode: str, departement: str) -> None:
    assert departement_of_citycode(citycode) == departement
    assert departement in DEPARTEMENTS


@pytest.mark.parametrize(("padded", "departement"), [("075", "75"), ("02A", "2A"), ("974", "974")])
def test_a_padded_departement_loses_its_leading_zero(padded: str, departement: str) -> None:
    assert departement_of_padded(padded) == departement


@pytest.mark.parametrize(
    ("citycode", "city"),
    [("75118", "75056"), ("13201", "13055"), ("69388", "69123"), ("93010", "93010")],
)
def test_an_arrondissement_belongs_to_its_city(citycode: str, city: str) -> None:
    assert commune_code(citycode) == city


_DIVISIONS = AdminDivisions.from_entries(
    DivisionsInfo("test.tgz", "c189ffd5b33f" + "0" * 52, 2),
    [
        CommuneEntry("93010", "Bondy", CommuneKind.CURRENT, "93", None, ("93140",), ("75010",)),
        CommuneEntry("75118", "Paris 18e", CommuneKind.ARRONDISSEMENT, "75", "75056", ("75018",)),
    ],
)


@pytest.mark.parametrize(
    ("code", "divisions", "problem"),
    [
        ("93140", _DIVISIONS, None),
        ("75099", None, None),  # without the reference only the shape can be checked
        ("75099", _DIVISIONS, "does not exist (La Poste postcodes, administrative divisions "),
        ("00100", _DIVISIONS, "is not a French postcode"),
    ],
)
def test_a_postcode_must_exist_when_the_divisions_are_known(
    code: str, divisions: AdminDivisions | None, problem: str | None
) -> None:
    found = postcode_problem(code, divisions)
    assert found == problem if problem is None else (found or "").startswith(problem)


@pytest.mark.parametrize(
    ("code", "divisions", "ok"),
    [
        ("93010", _DIVISIONS, True),
        ("75010", _DIVISIONS, True),  # a former code (Bondy, before 1968)
        ("75118", _DIVISIONS, True),
        ("93999", None, True),
        ("93999", _DIVISIONS, False),
        ("9301", None, False),
    ],
)
def test_an_insee_code_must_exist_when_the_divisions_are_known(
    code: str, divisions: AdminDivisions | None, ok: bool
) -> None:
    assert (citycode_problem(code, divisions) is None) is ok


@pytest.mark.parametrize(
    ("city", "number", "postcode"),
    [
        ("PARIS", 7, "75007"),
        ("Paris", 18, "75018"),
        ("Lyon", 3, "69003"),
        ("MARSEILLE", 16, "13016"),
        ("Paris", 21, None),
        ("Lyon", 10, None),
        ("Bondy", 1, None),
    ],
)
def test_a_cedex_office_number_of_paris_lyon_marseille_is_the_arrondissement(
    city: str, number: int, postcode: str | None
) -> None:
    assert arrondissement_postcode(city, number) == postcode
