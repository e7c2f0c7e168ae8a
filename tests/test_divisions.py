"""The administrative divisions reference: codes, names, postcodes, merged communes."""

from __future__ import annotations

import pytest

from app.divisions import AdminDivisions, CommuneEntry, CommuneKind, DivisionsInfo

CURRENT, DELEGATED, ARR = CommuneKind.CURRENT, CommuneKind.DELEGATED, CommuneKind.ARRONDISSEMENT
ENTRIES = [
    CommuneEntry("93010", "Bondy", CURRENT, "93", None, ("93140",), ("75010",)),
    CommuneEntry("75056", "Paris", CURRENT, "75", None, ("75018", "75116")),
    CommuneEntry("75118", "Paris 18e Arrondissement", ARR, "75", "75056", ("75018",)),
    CommuneEntry("01015", "Arboys en Bugey", CURRENT, "01", None, ("01300",), ("01340",)),
    CommuneEntry("01015", "Arbignieu", DELEGATED, "01", "01015"),
    CommuneEntry("01340", "Saint-Bois", DELEGATED, "01", "01015"),
]


@pytest.fixture(scope="module")
def divisions() -> AdminDivisions:
    return AdminDivisions.from_entries(DivisionsInfo("test.tgz", "ab" * 32, 6), ENTRIES)


@pytest.mark.parametrize(
    ("code", "current"),
    [
        ("93010", "93010"),  # a current commune is itself
        ("75118", "75056"),  # an arrondissement belongs to its city
        ("01340", "01015"),  # a merged commune to the one that absorbed it
        ("75010", "93010"),  # a former code (Seine, before 1968) to today's commune
        ("01015", "01015"),  # a delegated commune sharing the code does not shadow it
        ("99999", None),
    ],
)
def test_every_known_code_leads_to_its_current_commune(
    divisions: AdminDivisions, code: str, current: str | None
) -> None:
    assert divisions.current_code(code) == current


def test_names_come_from_the_current_entry_then_from_the_former_one(
    divisions: AdminDivisions,
) -> None:
    assert divisions.name("01015") == "Arboys en Bugey"
    assert divisions.name("01340") == "Saint-Bois"
    assert divisions.current_name("01340") == "Arboys en Bugey"
    assert divisions.name("75118") == "Paris 18e Arrondissement"


def test_postcodes_name_the_communes_and_arrondissements_they_serve(
    divisions: AdminDivisions,
) -> None:
    assert divisions.postcodes["75018"] == ("75056", "75118")
    assert divisions.knows_postcode("93140") and not divisions.knows_postcode("75099")


def test_a_commune_filter_keeps_names_and_maps_codes(divisions: AdminDivisions) -> None:
    assert divisions.canonical_commune("75118") == "75056"
    assert divisions.canonical_commune("Bondy") == "Bondy"
