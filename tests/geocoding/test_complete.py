"""Autocompletion over the offline tables (Paris and Bondy BAN)."""

from __future__ import annotations

import pytest

from app.geocoding.base import MatchType
from app.geocoding.local import LocalGeocoder
from app.geocoding.local.complete import completer, split_typed

TABARLY = "4 Rue Eric Tabarly 93140 Bondy"


@pytest.mark.parametrize(
    "typed",
    ["4 rue eric tab", "4 rue eric tabarly", "4 Rue Éric Tabarly 93140 Bondy", "4 r eric tabarl",
     "4 rue eric tabarly bon", "4 tabarly 93140"],
)  # fmt: skip
def test_a_number_and_the_start_of_the_street_suggest_the_address(
    local_geocoder: LocalGeocoder, typed: str
) -> None:
    best = completer(local_geocoder).complete(typed, 5)[0]
    assert best.label == TABARLY
    assert best.type is MatchType.HOUSENUMBER
    assert best.id == "93010_gs2x3y_00004"


def test_every_keystroke_of_the_street_keeps_it_among_the_suggestions(
    local_geocoder: LocalGeocoder,
) -> None:
    complete = completer(local_geocoder)
    typed = "4 rue eric tabarly"
    for end in range(len("4 rue eric t"), len(typed) + 1):
        labels = [c.label for c in complete.complete(typed[:end], 5)]
        assert TABARLY in labels, typed[:end]


def test_the_more_is_typed_the_higher_the_score(local_geocoder: LocalGeocoder) -> None:
    complete = completer(local_geocoder)
    scores = [complete.complete(t, 1)[0].score for t in ("4 rue eric ta", "4 rue eric tabar")]
    whole = complete.complete("4 rue eric tabarly ", 1)[0].score
    assert scores[0] < scores[1] < whole == 0.97


def test_trailing_words_may_name_the_commune(local_geocoder: LocalGeocoder) -> None:
    found = completer(local_geocoder).complete("allee anne frank bon", 5)
    assert found[0].street == "Allee Anne Frank"
    assert found[0].citycode == "93010"


def test_a_commune_alone_suggests_the_municipality_first(local_geocoder: LocalGeocoder) -> None:
    found = completer(local_geocoder).complete("bond", 5)
    assert found[0].type is MatchType.MUNICIPALITY
    assert found[0].citycode == "93010"


def test_the_communes_given_restrict_the_suggestions(local_geocoder: LocalGeocoder) -> None:
    found = completer(local_geocoder).complete("rue de rivoli", 5, frozenset({"75104"}))
    assert found and {c.citycode for c in found} == {"75104"}


@pytest.mark.parametrize("typed", ["zzqx wrrt", "", "   ", "4 zzqx", "rue polonceau 93140"])
def test_nothing_matching_suggests_nothing(local_geocoder: LocalGeocoder, typed: str) -> None:
    assert completer(local_geocoder).complete(typed, 5) == []


def test_a_common_word_alone_answers_the_heaviest_streets_first(
    local_geocoder: LocalGeocoder,
) -> None:
    found = completer(local_geocoder).complete("4 rue", 10)
    assert len(found) == 10
    assert all(c.label.startswith("4 Rue ") or "Rue" in c.label for c in found)


@pytest.mark.parametrize(
    ("typed", "number", "words", "postcode", "open_"),
    [
        ("4 rue eric tab", "4", ("rue", "eric", "tab"), None, True),
        ("12 bis bd X 75019 ", "12 b", ("bd", "x"), "75019", False),
        ("rue du 8 mai 1945", None, ("rue", "du", "8", "mai", "1945"), None, True),
        ("22bis rue x", "22 b", ("rue", "x"), None, True),
        ("75018 paris", None, ("paris",), "75018", True),
        ("10 cours x 17450 saint laurent de la pree", "10", ("cours", "x"), "17450", False),
    ],
)
def test_a_query_is_split_as_typed(
    typed: str, number: str | None, words: tuple[str, ...], postcode: str | None, open_: bool
) -> None:
    split = split_typed(typed)
    assert (split.number.label() if split.number else None) == number
    assert (split.words, split.postcode, split.open) == (words, postcode, open_)
