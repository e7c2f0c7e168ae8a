"""The offline geocoder on the real BAN files (Bondy and all of Paris): matching."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from app.data.ban_import import import_ban_files, load_local_geocoder
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.geocoding.base import AddressQuery, Candidate, Geocoder, MatchType, NoteKind
from app.geocoding.local import LocalGeocoder
from tests.conftest import BAN_BONDY, BAN_PARIS

# Published rows of adresses-93010-bondy.csv.gz (id, lon, lat).
VIEUX_CHATEAU_3 = ("93010_tt7py3_00003", 2.482084, 48.895657)
VIEUX_CHATEAU_3_BIS = ("93010_tt7py3_00003_bis", 2.48222, 48.895526)
VIEUX_CHATEAU_6 = ("93010_tt7py3_00006", 2.481746, 48.895554)
VIEUX_CHATEAU_6_TER = ("93010_tt7py3_00006_ter", 2.481686, 48.895441)
ESPERANCE_12 = ("93010_3150_00012", 2.496933, 48.895458)  # "Avenue de lâ€™EspÃ©rance"
# Bondy publishes "Avenue du Mal de Lattre de Tassigny" and "Av du Mal de Lattre de Tassigny"
# as two streets with the same numbers: the spelling typed picks one.
TASSIGNY_4_B = ("93010_z4f9f0_00004_b", 2.483153, 48.905591)  # "Avenue du Mal ..."
TASSIGNY_AV_4_BIS = ("93010_6155_00004_bis", 2.483198, 48.905564)  # "Av du Mal ..."
JAURES_12 = ("93010_4740_00012", 2.47707, 48.902728)  # "Rue Jean JaurÃ©s"
VILLETTE_12 = ("75119_9838_00012", 2.376095, 48.873228)
PAIX_12 = ("75102_6998_00012", 2.331303, 48.869141)


@pytest.fixture(scope="module")
def geocoders(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalGeocoder, LocalGeocoder]:
    """Bondy and all of Paris imported into a SQLite file: mapped from a store, and in memory."""
    folder = tmp_path_factory.mktemp("local")
    url = f"sqlite:///{folder / 'qpv.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        import_ban_files(engine, [BAN_BONDY, BAN_PARIS], store_root=folder / "geocoder")
        return load_local_geocoder(engine, folder / "geocoder"), load_local_geocoder(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def local_geocoder(geocoders: tuple[LocalGeocoder, LocalGeocoder]) -> LocalGeocoder:
    """The geocoder as the service loads it: tables mapped from the store."""
    return geocoders[0]


def test_mapped_tables_answer_as_tables_in_memory(
    geocoders: tuple[LocalGeocoder, LocalGeocoder],
) -> None:
    mapped, in_memory = geocoders
    assert (mapped.street_count, mapped.address_count) == (
        in_memory.street_count,
        in_memory.address_count,
    )
    rng = np.random.default_rng(7)
    queries = []
    for a in rng.choice(in_memory.address_count, 300, replace=False).tolist():
        s = int(np.searchsorted(in_memory._streets.end, a, side="right"))
        name = in_memory._streets.name[s]
        number = int(in_memory._addresses.numero[a])
        # Clean, without commune, with a typo, with a wrong number: every matching path.
        queries += [
            f"{number} {name} {in_memory._streets.postcode[s]} Paris",
            f"{number} {name}",
            f"{number} {name[:-2]}{name[-1]}{name[-2]} {in_memory._streets.city[s]}",
            f"{number + 999} {name} {in_memory._streets.postcode[s]}",
        ]
    for q in queries:
        assert mapped.search(AddressQuery(q=q)) == in_memory.search(AddressQuery(q=q)), q


def _best(geocoder: LocalGeocoder, query: str | AddressQuery) -> Candidate:
    q = AddressQuery(q=query) if isinstance(query, str) else query
    result = asyncio.run(geocoder.geocode(q, limit=5))
    assert result.best is not None, query
    return result.best


# --------------------------------------------------------------------------- matching


def test_is_a_geocoder(local_geocoder: LocalGeocoder) -> None:
    assert isinstance(local_geocoder, Geocoder)
    assert local_geocoder.name == "local"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # As published (the file's mojibake included).
        ("3 bis Rue du Vieux Chateau 93140 Bondy", VIEUX_CHATEAU_3_BIS),
        ("12 Avenue de lâ€™EspÃ©rance 93140 Bondy", ESPERANCE_12),
        ("12 Rue Jean JaurÃ©s 93140 Bondy", JAURES_12),
        ("12 Boulevard de la Villette 75019 Paris", VILLETTE_12),
        # Accents, case, apostrophes.
        ("12 avenue de l'Espérance 93140 Bondy", ESPERANCE_12),
        ("12 AVENUE DE L ESPERANCE 93140 BONDY", ESPERANCE_12),
        ("12 rue jean jaures 93140 bondy", JAURES_12),
        ("12 Rue Jean Jaurès, 93140 Bondy", JAURES_12),
        # Abbreviations.
        ("4 bis av du Mal de Lattre de Tassigny 93140 Bondy", TASSIGNY_AV_4_BIS),
        ("4 bis avenue du Mal de Lattre de Tassigny 93140 Bondy", TASSIGNY_4_B),
        ("4B avenue du maréchal de lattre de tassigny 93140", TASSIGNY_4_B),
        ("12 bd de la Villette 75019 Paris", VILLETTE_12),
        ("12 r de la Paix 75002 Paris", PAIX_12),
        ("12 av de l esperance bondy", ESPERANCE_12),
        # Typos.
        ("12 avenue de l'esperence 93140 Bondy", ESPERANCE_12),
        ("12 boulevard de la vilette 75019 Paris", VILLETTE_12),
        ("12 rue jean jorès bondy", JAURES_12),
        # Missing postcode, city name instead, arrondissement forms.
        ("12 avenue de l'Espérance, Bondy", ESPERANCE_12),
        ("12 avenue de l'Espérance Bondy", ESPERANCE_12),
        ("12 avenue de l'Espérance", ESPERANCE_12),
        ("12 boulevard de la Villette, Paris 19e", VILLETTE_12),
        ("12 boulevard de la Villette Paris 19ème arrondissement", VILLETTE_12),
        ("12 rue de la Paix, Paris", PAIX_12),
        ("12 rue de la Paix 75002", PAIX_12),
        ("12 rue de la Paix, 75002 PARIS", PAIX_12),
        # Street type missing or wrong.
        ("12 Jean Jaurès Bondy", JAURES_12),
        # Postcode and city first, complements.
        ("75019 Paris, 12 bd de la Villette", VILLETTE_12),
        ("Bâtiment B, 12 avenue de l'Espérance, 93140 Bondy", ESPERANCE_12),
        ("12 bd de la Villette 75 019 Paris, France", VILLETTE_12),
        # Mistyped postcode with the right city.
        ("12 avenue de l'Espérance 93410 Bondy", ESPERANCE_12),
    ],
)
def test_addresses_resolve_to_their_house_number(
    local_geocoder: LocalGeocoder, query: str, expected: tuple[str, float, float]
) -> None:
    best = _best(local_geocoder, query)
    assert best.type == MatchType.HOUSENUMBER
    assert (best.id, best.lon, best.lat) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            AddressQuery(numero="6 ter", voie="Rue du Vieux Château", code_postal="93140"),
            VIEUX_CHATEAU_6_TER,
        ),
        (AddressQuery(numero="6", voie="rue du vieux chateau", commune="Bondy"), VIEUX_CHATEAU_6),
        (AddressQuery(numero="3", voie="R DU VIEUX CHATEAU", citycode="93010"), VIEUX_CHATEAU_3),
        (AddressQuery(voie="3 bis rue du vieux chateau", code_postal="93140"), VIEUX_CHATEAU_3_BIS),
        (AddressQuery(numero="12", voie="bd de la villette", citycode="75056"), VILLETTE_12),
        (AddressQuery(numero="12", voie="bd de la villette", commune="Paris 19e"), VILLETTE_12),
        # A file's street and city columns joined, its postcode column given apart.
        (AddressQuery(q="6 Rue du Vieux Château Bondy", code_postal="93140"), VIEUX_CHATEAU_6),
        (AddressQuery(q="12 bd de la villette Paris", code_postal="75019"), VILLETTE_12),
    ],
)
def test_structured_fields(
    local_geocoder: LocalGeocoder, query: AddressQuery, expected: tuple[str, float, float]
) -> None:
    best = _best(local_geocoder, query)
    assert (best.id, best.lon, best.lat) == expected


@pytest.mark.parametrize(
    ("query", "expected_id"),
    [
        ("3 rue du vieux chateau bondy", VIEUX_CHATEAU_3[0]),
        ("3 bis rue du vieux chateau bondy", VIEUX_CHATEAU_3_BIS[0]),
        ("3bis rue du vieux chateau bondy", VIEUX_CHATEAU_3_BIS[0]),
        ("3B rue du vieux chateau bondy", VIEUX_CHATEAU_3_BIS[0]),
        ("3 b, rue du vieux chateau, bondy", VIEUX_CHATEAU_3_BIS[0]),
        ("6 ter rue du vieux chateau bondy", VIEUX_CHATEAU_6_TER[0]),
        ("6T rue du vieux chateau bondy", VIEUX_CHATEAU_6_TER[0]),
        ("6 rue du vieux chateau bondy", VIEUX_CHATEAU_6[0]),
        ("4 bis avenue du mal de lattre de tassigny bondy", TASSIGNY_4_B[0]),
        ("4 bis av du mal de lattre de tassigny bondy", TASSIGNY_AV_4_BIS[0]),
    ],
)
def test_repetition_index(local_geocoder: LocalGeocoder, query: str, expected_id: str) -> None:
    best = _best(local_geocoder, query)
    assert best.id == expected_id
    assert best.score >= 0.95


def test_missing_repetition_index_falls_back_to_the_number(local_geocoder: LocalGeocoder) -> None:
    exact = _best(local_geocoder, "6 ter rue du vieux chateau 93140 bondy")
    other = _best(local_geocoder, "6 quater rue du vieux chateau 93140 bondy")
    assert other.type == MatchType.HOUSENUMBER
    assert other.id in {VIEUX_CHATEAU_6[0], VIEUX_CHATEAU_6_TER[0]}
    assert other.score < exact.score


def test_scores_follow_the_quality_of_the_match(local_geocoder: LocalGeocoder) -> None:
    clean = _best(local_geocoder, "12 Avenue de l'Espérance 93140 Bondy")
    abbreviated = _best(local_geocoder, "12 av de l'esperance 93140 bondy")
    typo = _best(local_geocoder, "12 avenue de l'esperence 93140 Bondy")
    no_city = _best(local_geocoder, "12 avenue de l'Espérance")
    assert clean.score >= 0.95
    assert abbreviated.score == clean.score  # normalisation is exact, not fuzzy
    assert 0.5 < typo.score < clean.score
    assert 0.5 < no_city.score < clean.score
    assert clean.label == "12 Avenue de l’Espérance 93140 Bondy"
    assert (clean.citycode, clean.postcode, clean.city, clean.housenumber) == (
        "93010",
        "93140",
        "Bondy",
        "12",
    )


def test_ambiguous_streets_get_equal_scores(local_geocoder: LocalGeocoder) -> None:
    # "Villette" alone: the boulevard, the rue and the galerie all have a number 12.
    found = local_geocoder.search(AddressQuery(q="12 Villette 75019 Paris"))
    assert {c.street for c in found[:3]} == {
        "Boulevard de la Villette",
        "Rue de la Villette",
        "Galerie de la Villette",
    }
    assert found[0].score == found[2].score < 0.95


def test_unknown_number_falls_back_to_the_street(local_geocoder: LocalGeocoder) -> None:
    # The street's numbers stop at 19: 99 cannot be placed between neighbours.
    best = _best(local_geocoder, "99 rue du Vieux Château 93140 Bondy")
    assert best.type == MatchType.STREET
    assert [n.kind for n in best.notes] == [NoteKind.NUMBER_MISSING]
    assert best.street == "Rue du Vieux Chateau"
    assert best.housenumber is None
    assert 0.5 < best.score < 0.9
    lon, lat = local_geocoder.street_points(best)
    assert len(lon) == len(lat) == 18
    assert VIEUX_CHATEAU_3_BIS[1] in lon
    # The street point is one of the street's address points, not a mean off the street.
    assert best.lon in lon


def test_street_without_number(local_geocoder: LocalGeocoder) -> None:
    best = _best(local_geocoder, "Rue du Vieux Château, Bondy")
    assert best.type == MatchType.STREET
    assert best.score > 0.9


def test_a_street_named_after_a_commune_is_not_split(local_geocoder: LocalGeocoder) -> None:
    # "Rue de Bondy" (in Bondy) without postcode: not "12 rue de" in the commune Bondy.
    best = _best(local_geocoder, "12 rue de Bondy")
    assert best.street == "Rue de Bondy"
    best = _best(local_geocoder, AddressQuery(q="12 rue de Bondy", code_postal="93140"))
    assert best.street == "Rue de Bondy"
    # "Rue de Montreuil" exists in Paris: the trailing "Paris" is the city.
    best = _best(local_geocoder, "12 rue de Montreuil Paris")
    assert (best.street, best.citycode, best.score) == ("Rue de Montreuil", "75111", 0.97)


def test_unknown_street_falls_back_to_the_commune(local_geocoder: LocalGeocoder) -> None:
    best = _best(local_geocoder, "12 rue Qui N'Existe Pas 93140 Bondy")
    assert best.type == MatchType.MUNICIPALITY
    assert best.citycode == "93010"
    assert best.score < 0.5


@pytest.mark.parametrize(
    ("query", "citycodes"),
    [
        ("93140 Bondy", {"93010"}),
        ("Bondy", {"93010"}),
        ("Paris 19e", {"75119"}),
        ("75019 Paris", {"75119"}),
        ("PARIS 1ER ARRONDISSEMENT", {"75101"}),
    ],
)
def test_commune_only(local_geocoder: LocalGeocoder, query: str, citycodes: set[str]) -> None:
    result = local_geocoder.search(AddressQuery(q=query), limit=5)
    assert {c.citycode for c in result} == citycodes
    assert all(c.type == MatchType.MUNICIPALITY and c.score >= 0.85 for c in result)


def test_paris_alone_is_every_arrondissement(local_geocoder: LocalGeocoder) -> None:
    result = local_geocoder.search(AddressQuery(q="Paris"), limit=50)
    assert {c.citycode for c in result} == {f"751{i:02d}" for i in range(1, 21)}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "12 rue de la République 13001 Marseille",  # commune not imported
        "Trifouillis-les-Oies",
        "xqzwv kptlm",
        AddressQuery(numero="12", voie="rue de la paix", citycode="69123"),
    ],
)
def test_not_found(local_geocoder: LocalGeocoder, query: str | AddressQuery) -> None:
    q = AddressQuery(q=query) if isinstance(query, str) else query
    assert local_geocoder.search(q) == []


def test_geocode_many_keeps_the_order(local_geocoder: LocalGeocoder) -> None:
    queries = [
        AddressQuery(q="12 rue de la paix 75002 paris"),
        AddressQuery(q="nowhere at all 13001"),
        AddressQuery(q="3 bis rue du vieux chateau 93140 bondy"),
    ]
    results = asyncio.run(local_geocoder.geocode_many(queries))
    assert [r.best.id if r.best else None for r in results] == [
        PAIX_12[0],
        None,
        VIEUX_CHATEAU_3_BIS[0],
    ]
    assert all(r.error is None for r in results)
    asyncio.run(local_geocoder.aclose())


def test_has_commune(local_geocoder: LocalGeocoder) -> None:
    assert local_geocoder.has_commune("93010")
    assert local_geocoder.has_commune("75119")
    assert local_geocoder.has_commune("75056")  # Paris as a whole
    assert not local_geocoder.has_commune("13055")
    assert not local_geocoder.has_commune("93048")


def test_street_points_of_a_long_street_span_its_arrondissements(
    local_geocoder: LocalGeocoder,
) -> None:
    best = _best(local_geocoder, "12 boulevard de la Villette 75019 Paris")
    lon, lat = local_geocoder.street_points(best)
    assert len(lon) > 50
    assert np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))
    assert VILLETTE_12[1] in lon
    unknown = Candidate("x", 0.5, MatchType.STREET, 0.0, 0.0, citycode="93010", street="Nope")
    assert local_geocoder.street_points(unknown)[0].size == 0


# --------------------------------------------------------------------------- issue 9


@pytest.mark.parametrize(
    ("query", "citycode", "label", "differs"),
    [
        # A street spelt by ear inside the postcode given.
        ("2 rue polonso 75018 paris", "75118", "2 Rue Polonceau 75018 Paris", False),
        (AddressQuery(q="2 rue polonso", code_postal="75018"), "75118", "2 Rue Polonceau", False),
        # The exact street and number just across the line beat a fuzzy street inside.
        ("243 Rue Marcadet 75008 Paris", "75118", "243 Rue Marcadet 75018 Paris", True),
        ("10 Rue François Villon 75016 Paris", "75115", "10 Rue François Villon 75015", True),
    ],
)
def test_a_postcode_given_is_evidence_not_a_wall(
    local_geocoder: LocalGeocoder,
    query: str | AddressQuery,
    citycode: str,
    label: str,
    differs: bool,
) -> None:
    best = _best(local_geocoder, query)
    assert best.type == MatchType.HOUSENUMBER
    assert (best.citycode, best.label.startswith(label)) == (citycode, True)
    kinds = [n.kind for n in best.notes]
    assert kinds == ([NoteKind.COMMUNE_DIFFERS] if differs else [])
    if differs:
        assert "given, but found in" in best.notes[0].detail
        assert 0.8 <= best.score < 0.9


def test_an_address_without_commune_is_searched_everywhere(local_geocoder: LocalGeocoder) -> None:
    best = _best(local_geocoder, "159 Avenue de France")
    assert (best.label, best.type) == ("159 Avenue de France 75013 Paris", MatchType.HOUSENUMBER)
    assert best.notes == ()


def test_the_same_address_in_several_communes_says_so(local_geocoder: LocalGeocoder) -> None:
    found = local_geocoder.search(AddressQuery(q="7 rue de l'Égalité"))
    assert {c.citycode for c in found[:2]} == {"75119", "93010"}
    assert found[0].score == found[1].score
    assert [n.kind for n in found[0].notes] == [NoteKind.SEVERAL_COMMUNES]
    assert "2 communes" in found[0].notes[0].detail


def test_a_missing_repetition_index_says_what_was_matched(local_geocoder: LocalGeocoder) -> None:
    best = _best(local_geocoder, "5 bis rue de la Chapelle 75018 Paris")
    assert (best.housenumber, best.type) == ("5", MatchType.HOUSENUMBER)
    assert [n.kind for n in best.notes] == [NoteKind.INDEX_DIFFERS]
    assert best.notes[0].detail == "5bis is not in the BAN on this street: matched 5 instead"
    assert best.score < 0.9


@pytest.mark.parametrize("number", [183, 185])
def test_a_missing_number_is_interpolated_between_its_neighbours(
    local_geocoder: LocalGeocoder, number: int
) -> None:
    # Rue Edouard Vaillant, Bondy: 179 and 187 are published, 181 to 185 are not.
    n179 = _best(local_geocoder, "179 rue Edouard Vaillant 93140 Bondy")
    n187 = _best(local_geocoder, "187 rue Edouard Vaillant 93140 Bondy")
    best = _best(local_geocoder, f"{number} rue Edouard Vaillant 93140 Bondy")
    assert best.type == MatchType.INTERPOLATED
    assert (best.housenumber, best.id) == (str(number), None)
    assert best.bounds == ((n179.lon, n179.lat), (n187.lon, n187.lat))
    t = (number - 179) / 8
    assert best.lon == pytest.approx(n179.lon + t * (n187.lon - n179.lon), abs=1e-6)
    assert best.lat == pytest.approx(n179.lat + t * (n187.lat - n179.lat), abs=1e-6)
    assert [n.kind for n in best.notes] == [NoteKind.NUMBER_INTERPOLATED]
    assert "between 179 and 187" in best.notes[0].detail
    assert 0.8 < best.score < n179.score


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (AddressQuery(q="12 rue de la République 13001 Marseille"), "postcode 13001"),
        (AddressQuery(q="12 rue de la Paix", citycode="69123"), "citycode 69123"),
        (AddressQuery(q="12 rue de la Paix, Lyon"), "the commune 'Lyon'"),
    ],
)
def test_a_commune_outside_the_tables_is_said_not_covered(
    local_geocoder: LocalGeocoder, query: AddressQuery, named: str
) -> None:
    result = local_geocoder.result(query)
    assert result.candidates == []
    assert result.uncovered is not None
    assert f"do not cover {named}" in result.uncovered


def test_a_covered_commune_without_match_is_not_said_uncovered(
    local_geocoder: LocalGeocoder,
) -> None:
    result = local_geocoder.result(AddressQuery(q="xqzwv kptlm"))
    assert (result.candidates, result.uncovered) == ([], None)
