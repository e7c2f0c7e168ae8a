"""Lines written around an address: recognised, set aside, and said."""

from __future__ import annotations

import pytest

from app.geocoding.base import AddressQuery
from app.geocoding.lines import AddressLines, clean_query, split_lines

KNOWN = frozenset({"93140", "75007", "75018", "69003"})


@pytest.mark.parametrize(
    ("text", "address", "set_aside"),
    [
        # Flat, staircase, building, floor, residence, recipient: before the street...
        ("Bat B Appt 12 4 rue Eric Tabarly 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy",
         ("Bat B Appt 12",)),
        ("Résidence les Lilas 4 rue Eric Tabarly 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy",
         ("Résidence les Lilas",)),
        ("Bâtiment A Escalier 2 3e étage 4 rue Eric Tabarly 93140 Bondy",
         "4 rue Eric Tabarly 93140 Bondy", ("Bâtiment A Escalier 2 3e étage",)),
        ("chez M. Dupont 4 rue Eric Tabarly 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy",
         ("chez M. Dupont",)),
        ("Mme Martin 4 bis rue Eric Tabarly 93140 Bondy", "4 bis rue Eric Tabarly 93140 Bondy",
         ("Mme Martin",)),
        ("Bat B rue Eric Tabarly 93140 Bondy", "rue Eric Tabarly 93140 Bondy", ("Bat B",)),
        ("Tour Eiffel 5 avenue Anatole France 75007 Paris", "5 avenue Anatole France 75007 Paris",
         ("Tour Eiffel",)),
        # ... and after it.
        ("4 rue Eric Tabarly Bat B Appt 12 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy",
         ("Bat B", "Appt 12")),
        ("4 rue Eric Tabarly 3ème étage 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy",
         ("3ème étage",)),
        ("4 rue Eric Tabarly, Appt 12, 93140 Bondy", "4 rue Eric Tabarly, 93140 Bondy",
         ("Appt 12",)),
        ("4 rue Eric Tabarly Résidence les Lilas 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy",
         ("Résidence les Lilas",)),
        ("4 rue Eric Tabarly lieu-dit Les Forges 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy",
         ("lieu-dit Les Forges",)),
        # Special distribution and CEDEX.
        ("4 rue Eric Tabarly BP 12 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy", ("BP 12",)),
        ("4 rue Eric Tabarly CS 70001 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy",
         ("CS 70001",)),
        ("4 rue Eric Tabarly B.P. 45 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy", ("B.P. 45",)),
        ("12 rue de Grenelle 75700 PARIS CEDEX 07", "12 rue de Grenelle 75007 PARIS",
         ("75700 PARIS CEDEX 07",)),
        ("20 rue Garibaldi 69401 Lyon Cedex 3", "20 rue Garibaldi 69003 Lyon",
         ("69401 Lyon Cedex 3",)),
        ("4 rue Eric Tabarly 93141 BONDY CEDEX", "4 rue Eric Tabarly BONDY",
         ("93141 BONDY CEDEX",)),
        ("4 rue Eric Tabarly 93140 BONDY CEDEX", "4 rue Eric Tabarly 93140 BONDY",
         ("93140 BONDY CEDEX",)),
        # AFNOR NF Z10-011: recipient, flat, building, street, lieu-dit/BP, locality, country.
        ("M. Jean Dupont\nAppartement 12 Escalier B\nBâtiment A Résidence les Lilas\n"
         "4 rue Eric Tabarly\nBP 12\n93141 BONDY CEDEX\nFRANCE", "4 rue Eric Tabarly BONDY",
         ("M. Jean Dupont", "Appartement 12 Escalier B", "Bâtiment A Résidence les Lilas",
          "BP 12", "93141 BONDY CEDEX")),
        ("Mme Martin\r\nLieu-dit La Haie\r\n93140 Bondy", "La Haie 93140 Bondy", ("Mme Martin",)),
        ("4 rue Eric Tabarly\nBondy", "4 rue Eric Tabarly, Bondy", ()),
        ("Société X\nCS 70001\n75700 PARIS CEDEX 07", "75007 PARIS",
         ("Société X", "CS 70001", "75700 PARIS CEDEX 07")),
        # Names that only look like complements stay.
        ("4 Résidence des Floralies 93140 Bondy", "4 Résidence des Floralies 93140 Bondy", ()),
        ("12 rue de la Résidence 93140 Bondy", "12 rue de la Résidence 93140 Bondy", ()),
        ("62bp Rue de l'Ourcq 75019 Paris", "62bp Rue de l'Ourcq 75019 Paris", ()),
        ("Voie Bp/16 75012 Paris", "Voie Bp/16 75012 Paris", ()),
        ("59 bp4 Rue de la Chapelle 75018 Paris", "59 bp4 Rue de la Chapelle 75018 Paris", ()),
        ("Lieu-dit Les Forges 93140 Bondy", "Les Forges 93140 Bondy", ()),
        ("LIEU DIT Les Forges 93140 Bondy", "Les Forges 93140 Bondy", ()),
        ("4 rue Eric Tabarly lieu dit Les Forges 93140 Bondy", "4 rue Eric Tabarly 93140 Bondy",
         ("lieu-dit Les Forges",)),
        ("12 Avenue des 3 Cours 93140 Bondy", "12 Avenue des 3 Cours 93140 Bondy", ()),
        ("Avenue des 3 Cours 93140 Bondy", "Avenue des 3 Cours 93140 Bondy", ()),
        ("12 rue du 8 Mai 1945 93140 Bondy", "12 rue du 8 Mai 1945 93140 Bondy", ()),
        ("Paris 4 rue X", "Paris 4 rue X", ()),
    ],
)  # fmt: skip
def test_extra_lines_are_set_aside_and_named(
    text: str, address: str, set_aside: tuple[str, ...]
) -> None:
    assert split_lines(text, KNOWN.__contains__) == AddressLines(address, set_aside)


def test_a_cedex_code_is_kept_when_no_postcode_base_can_tell() -> None:
    lines = split_lines("4 rue Eric Tabarly 93141 BONDY CEDEX")
    assert lines == AddressLines("4 rue Eric Tabarly 93141 BONDY", ("93141 BONDY CEDEX",))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            AddressQuery(q="Bat B Appt 12 4 rue Eric Tabarly 93140 Bondy"),
            AddressQuery(q="4 rue Eric Tabarly 93140 Bondy", set_aside=("Bat B Appt 12",)),
        ),
        (
            AddressQuery(voie="Résidence les Lilas 4 rue Eric Tabarly", commune="Bondy"),
            AddressQuery(
                voie="4 rue Eric Tabarly", commune="Bondy", set_aside=("Résidence les Lilas",)
            ),
        ),
        (
            AddressQuery(voie="rue de Grenelle", code_postal="75700", commune="PARIS CEDEX 07"),
            AddressQuery(
                voie="rue de Grenelle",
                code_postal="75007",
                commune="PARIS",
                set_aside=("CEDEX 07",),
            ),
        ),
        (
            AddressQuery(
                numero="4", voie="rue Eric Tabarly", code_postal="93141", commune="Bondy Cedex"
            ),
            AddressQuery(
                numero="4",
                voie="rue Eric Tabarly",
                commune="Bondy",
                set_aside=("Cedex", "code_postal 93141 (CEDEX)"),
            ),
        ),
        # Unless the address says CEDEX, an unknown postcode is left for validation to refuse.
        (
            AddressQuery(voie="rue X", code_postal="75099", commune="Paris"),
            AddressQuery(voie="rue X", code_postal="75099", commune="Paris"),
        ),
    ],
)
def test_clean_query_sets_aside_lines_and_cedex_codes(
    query: AddressQuery, expected: AddressQuery
) -> None:
    assert clean_query(query, KNOWN.__contains__) == expected
