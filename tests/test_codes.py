"""French administrative codes: the one module every check asks."""

from __future__ import annotations

import pytest

from app.codes import (
    DEPARTEMENTS,
    commune_code,
    departement_of_citycode,
    departement_of_padded,
    is_insee_code,
    is_postcode,
)


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
