"""Normalisation and parsing of French addresses."""

from __future__ import annotations

import re
import unicodedata

import pytest

from app.folding import fix_mojibake, fold
from app.geocoding.normalize import (
    HouseNumber,
    ParsedAddress,
    canonical_rep,
    normalize_city,
    normalize_street,
    parse_address,
    parse_housenumber,
    street_key,
    strip_type,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AllÃ©e Racine", "Allée Racine"),
        ("Avenue de lâ€™EspÃ©rance", "Avenue de l’Espérance"),
        ("Allée Racine", "Allée Racine"),
        ("Ãtrange", "Ãtrange"),  # not mojibake: left alone
    ],
)
def test_fix_mojibake(raw: str, expected: str) -> None:
    assert fix_mojibake(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Rue de l'Église", "rue de l eglise"),
        ("RUE  DE   L’ÉGLISE", "rue de l eglise"),
        ("Place Charles-de-Gaulle", "place charles de gaulle"),
        ("Cœur de Ville", "coeur de ville"),
        ("Rue du 8 Mai 1945", "rue du 8 mai 1945"),
        ("  Impasse (privée) ", "impasse privee"),
    ],
)
def test_fold(raw: str, expected: str) -> None:
    assert fold(raw) == expected


def _fold_char_by_char(text: str) -> str:
    """fold as first written: every character tested for a combining mark."""
    text = fix_mojibake(text).lower()
    text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", " ", text).strip()


def test_fold_answers_as_the_character_by_character_rule_on_every_character() -> None:
    texts = [f"a{chr(c)}b" for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    texts += ["Rue de l'Église", "AllÃ©e", "ǅ ǲ ﬁ", "e\u0301\u0489", "x\U0001d15f", "ÅNGSTRÖM"]
    for text in texts:
        assert fold(text) == _fold_char_by_char(text), repr(text)


@pytest.mark.parametrize(
    ("typed", "official"),
    [
        ("av de la République", "Avenue de la République"),
        ("AV. DE LA REPUBLIQUE", "Avenue de la République"),
        ("ave de la republique", "Avenue de la République"),
        ("bd St-Germain", "Boulevard Saint-Germain"),
        ("Bld Saint Germain", "Boulevard Saint-Germain"),
        ("r. de la Paix", "Rue de la Paix"),
        ("pl. de l'Eglise", "Place de l'Église"),
        ("fg St Antoine", "Faubourg Saint-Antoine"),
        ("imp des Lilas", "Impasse des Lilas"),
        ("all des Roses", "Allée des Roses"),
        ("ch du Moulin", "Chemin du Moulin"),
        ("che du Moulin", "Chemin du Moulin"),
        ("sq Mozart", "Square Mozart"),
        ("qu de Valmy", "Quai de Valmy"),
        ("crs Mirabeau", "Cours Mirabeau"),
        ("rte de Paris", "Route de Paris"),
        ("res les Tilleuls", "Résidence les Tilleuls"),
        ("pass Brady", "Passage Brady"),
        ("prom des Anglais", "Promenade des Anglais"),
        ("lot les Vignes", "Lotissement les Vignes"),
        ("ham de la Forge", "Hameau de la Forge"),
        ("av du Gal Leclerc", "Avenue du Général Leclerc"),
        ("av du Mal Foch", "Avenue du Maréchal Foch"),
        ("rue Ste Barbe", "Rue Sainte-Barbe"),
        ("av du Pdt Wilson", "Avenue du Président Wilson"),
        ("rue du Dr Roux", "Rue du Docteur Roux"),
        ("Avenue du Mal de Lattre de Tassigny", "Avenue du Maréchal de Lattre de Tassigny"),
    ],
)
def test_abbreviations_meet_the_full_words(typed: str, official: str) -> None:
    assert normalize_street(typed) == normalize_street(official)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Boulevard de la Villette", "boulevard villette"),
        ("bd Villette", "boulevard villette"),
        ("Rue d'Alésia", "rue alesia"),
        ("Rue des Écoles", "rue ecoles"),
        ("Rue aux Ours", "rue ours"),
        ("Rue du Lot", "rue lot"),  # "lot" after the type is a word, not "lotissement"
    ],
)
def test_street_key_drops_articles(name: str, key: str) -> None:
    assert street_key(normalize_street(name)) == key


@pytest.mark.parametrize(
    ("key", "expected"),
    [("rue paix", "paix"), ("boulevard villette", "villette"), ("villette", "villette")],
)
def test_strip_type(key: str, expected: str) -> None:
    assert strip_type(key) == expected


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        ("Paris 19e Arrondissement", "paris 19"),
        ("PARIS 19", "paris 19"),
        ("Paris 19ème", "paris 19"),
        ("paris 19eme arr.", "paris 19"),
        ("Paris 1er Arrondissement", "paris 1"),
        ("Marseille 1er", "marseille 1"),
        ("Le Blanc-Mesnil", "blanc mesnil"),
        ("St-Denis", "saint denis"),
        ("Saint Denis", "saint denis"),
        ("L'Île-Saint-Denis", "ile saint denis"),
        ("BONDY CEDEX", "bondy"),
        ("Bondy", "bondy"),
    ],
)
def test_normalize_city(city: str, expected: str) -> None:
    assert normalize_city(city) == expected


@pytest.mark.parametrize(
    ("rep", "expected"),
    [
        ("bis", "b"),
        ("B", "b"),
        ("ter", "t"),
        ("T", "t"),
        ("quater", "q"),
        ("quinquies", "c"),
        ("a", "a"),
        ("", ""),
        (None, ""),
    ],
)
def test_canonical_rep(rep: str | None, expected: str) -> None:
    assert canonical_rep(rep) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", HouseNumber(12)),
        (" 12 ", HouseNumber(12)),
        ("12 bis", HouseNumber(12, "b")),
        ("12bis", HouseNumber(12, "b")),
        ("12 BIS", HouseNumber(12, "b")),
        ("12B", HouseNumber(12, "b")),
        ("12 b", HouseNumber(12, "b")),
        ("12 ter", HouseNumber(12, "t")),
        ("12t", HouseNumber(12, "t")),
        ("7 quater", HouseNumber(7, "q")),
        ("5A", HouseNumber(5, "a")),
        ("5 c", HouseNumber(5, "c")),
        ("12-14", HouseNumber(12)),
        ("12/14", HouseNumber(12)),
        ("4bis.", HouseNumber(4, "b")),
        ("0", HouseNumber(0)),
        ("", None),
        (None, None),
        ("bis", None),
        ("n/a", None),
    ],
)
def test_parse_housenumber(text: str | None, expected: HouseNumber | None) -> None:
    assert parse_housenumber(text) == expected


def test_housenumber_label() -> None:
    assert HouseNumber(12, "b").label() == "12 b"
    assert HouseNumber(12).label() == "12"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "12 bd de la Villette 75019 Paris",
            ParsedAddress(HouseNumber(12), "bd de la Villette", "75019", "Paris"),
        ),
        ("12, rue X, Paris", ParsedAddress(HouseNumber(12), "rue X", None, "Paris")),
        ("12 bis rue X", ParsedAddress(HouseNumber(12, "b"), "rue X", None, None)),
        ("12bis rue X", ParsedAddress(HouseNumber(12, "b"), "rue X", None, None)),
        ("12 B rue X 75002", ParsedAddress(HouseNumber(12, "b"), "rue X", "75002", None)),
        ("12 r de la Paix", ParsedAddress(HouseNumber(12), "r de la Paix", None, None)),
        (
            "3 ter, Allée Racine, 93140",
            ParsedAddress(HouseNumber(3, "t"), "Allée Racine", "93140", None),
        ),
        (
            "rue du 8 Mai 1945 93140 Bondy",
            ParsedAddress(None, "rue du 8 Mai 1945", "93140", "Bondy"),
        ),
        ("75019 Paris", ParsedAddress(None, "", "75019", "Paris")),
        (
            "12 rue X, 75019, Paris",
            ParsedAddress(HouseNumber(12), "rue X", "75019", "Paris"),
        ),
        (
            "12 rue X, Paris 75019",
            ParsedAddress(HouseNumber(12), "rue X", "75019", "Paris"),
        ),
        ("rue X, Paris 19e", ParsedAddress(None, "rue X", None, "Paris 19e")),
        ("12, Allée Racine", ParsedAddress(HouseNumber(12), "Allée Racine", None, None)),
        ("10-12 rue X", ParsedAddress(HouseNumber(10), "rue X", None, None)),
        ("3 AllÃ©e Racine 93140", ParsedAddress(HouseNumber(3), "Allée Racine", "93140", None)),
        # Paris two-letter indexes, recognised before a street type word.
        (
            "199 bv Boulevard Davout 75020 Paris",
            ParsedAddress(HouseNumber(199, "bv"), "Boulevard Davout", "75020", "Paris"),
        ),
        ("62bp Rue de l'Ourcq", ParsedAddress(HouseNumber(62, "bp"), "Rue de l'Ourcq", None, None)),
        ("12 la rue haute", ParsedAddress(HouseNumber(12), "la rue haute", None, None)),
        ("12 bd de la Villette", ParsedAddress(HouseNumber(12), "bd de la Villette", None, None)),
        # Postcode first, street after; complements; spaced postcode; country.
        (
            "75019 Paris, 12 bd de la Villette",
            ParsedAddress(HouseNumber(12), "bd de la Villette", "75019", "Paris"),
        ),
        (
            "Paris 75019 12 bd de la Villette",
            ParsedAddress(HouseNumber(12), "bd de la Villette", "75019", "Paris"),
        ),
        (
            "Bâtiment B, 12 bis rue X, 93140 Bondy",
            ParsedAddress(HouseNumber(12, "b"), "rue X", "93140", "Bondy"),
        ),
        (
            "appartement 4, 12 rue X 75019 Paris",
            ParsedAddress(HouseNumber(12), "rue X", "75019", "Paris"),
        ),
        ("12 RUE X 75 019 PARIS", ParsedAddress(HouseNumber(12), "RUE X", "75019", "PARIS")),
        ("12 rue X 75019 Paris, France", ParsedAddress(HouseNumber(12), "rue X", "75019", "Paris")),
        # No comma and no postcode: the city is left in the street for the geocoder to find.
        ("12 rue X Paris", ParsedAddress(HouseNumber(12), "rue X Paris", None, None)),
    ],
)
def test_parse_address(text: str, expected: ParsedAddress) -> None:
    assert parse_address(text) == expected
