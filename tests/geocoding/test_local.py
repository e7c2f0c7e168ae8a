"""The offline geocoder on the real BAN files: import on both backends, then matching."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from app.cli import main as qpv_main
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.errors import ImportRefused
from app.geocoding.ban_import import import_ban_files
from app.geocoding.base import AddressQuery, Candidate, Geocoder, MatchType
from app.geocoding.local import LocalGeocoder
from tests.conftest import BAN_BONDY, BAN_PARIS

BONDY_ADDRESSES = 8413
BONDY_STREETS = 350
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


def _engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """An engine on each backend in turn (migrated, empty)."""
    yield from _engine(database_url)


@pytest.fixture(scope="module")
def local_geocoder(tmp_path_factory: pytest.TempPathFactory) -> LocalGeocoder:
    """Bondy and all of Paris imported into a SQLite file, loaded in memory."""
    url = f"sqlite:///{tmp_path_factory.mktemp('local') / 'qpv.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        import_ban_files(engine, [BAN_BONDY, BAN_PARIS])
        return LocalGeocoder.load(engine)
    finally:
        engine.dispose()


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        streets = conn.execute(text("SELECT COUNT(*) FROM ban_streets")).scalar_one()
        addresses = conn.execute(text("SELECT COUNT(*) FROM ban_addresses")).scalar_one()
    return int(streets), int(addresses)


def _paris_extract(path: Path, rows: int) -> Path:
    """The header and the first ``rows`` rows of the Paris file, uncompressed."""
    with gzip.open(BAN_PARIS, "rt", encoding="utf-8") as src:
        lines = [next(src) for _ in range(rows + 1)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _best(geocoder: LocalGeocoder, query: str | AddressQuery) -> Candidate:
    q = AddressQuery(q=query) if isinstance(query, str) else query
    result = asyncio.run(geocoder.geocode(q, limit=5))
    assert result.best is not None, query
    return result.best


# --------------------------------------------------------------------------- import


def test_import_bondy_counts_and_rows(db: Engine) -> None:
    (report,) = import_ban_files(db, [BAN_BONDY])
    assert (report.streets, report.addresses, report.skipped) == (BONDY_STREETS, BONDY_ADDRESSES, 0)
    assert report.departements == ("93",)
    assert _counts(db) == (BONDY_STREETS, BONDY_ADDRESSES)
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT a.numero, a.rep, a.lon, a.lat, s.name, s.citycode, s.postcode "
                "FROM ban_addresses a JOIN ban_streets s ON s.id = a.street_id "
                "WHERE a.ban_id = :id"
            ),
            {"id": VIEUX_CHATEAU_3_BIS[0]},
        ).one()
        imports = conn.execute(text("SELECT source_name, address_count FROM ban_imports")).all()
    assert tuple(row) == (3, "bis", 2.48222, 48.895526, "Rue du Vieux Chateau", "93010", "93140")
    with db.connect() as conn:
        rows = conn.execute(text("SELECT name, ban_id FROM ban_streets")).all()
    street_ids: dict[str, str] = {r[0]: r[1] for r in rows}
    assert street_ids["Rue du Vieux Chateau"] == "93010_tt7py3"
    assert [tuple(r) for r in imports] == [(BAN_BONDY.name, BONDY_ADDRESSES)]


def test_import_repairs_mojibake_in_names(db: Engine) -> None:
    import_ban_files(db, [BAN_BONDY])
    with db.connect() as conn:
        names = set(conn.execute(text("SELECT name FROM ban_streets")).scalars())
    assert "Allée Racine" in names
    assert "Avenue de l’Espérance" in names
    assert not any("Ã" in n for n in names)


def test_reimport_is_idempotent(db: Engine) -> None:
    import_ban_files(db, [BAN_BONDY])
    first = LocalGeocoder.load(db).search(AddressQuery(q="3 bis rue du vieux chateau bondy"))
    import_ban_files(db, [BAN_BONDY])
    import_ban_files(db, [BAN_BONDY])
    assert _counts(db) == (BONDY_STREETS, BONDY_ADDRESSES)
    again = LocalGeocoder.load(db).search(AddressQuery(q="3 bis rue du vieux chateau bondy"))
    assert [c.id for c in first] == [c.id for c in again] == [VIEUX_CHATEAU_3_BIS[0]]


def test_reimport_replaces_only_its_departement(db: Engine, tmp_path: Path) -> None:
    paris = _paris_extract(tmp_path / "adresses-75-extract.csv", 500)
    import_ban_files(db, [BAN_BONDY, paris])
    both = _counts(db)
    assert both[1] == BONDY_ADDRESSES + 500
    import_ban_files(db, [paris])
    assert _counts(db) == both
    import_ban_files(db, [BAN_BONDY])
    assert _counts(db) == both


def test_files_of_one_departement_in_one_run_add_up(sqlite_url: str, tmp_path: Path) -> None:
    # Two extracts of département 75: the second must not erase the first.
    with gzip.open(BAN_PARIS, "rt", encoding="utf-8") as src:
        header, *rows = [next(src) for _ in range(301)]
    (tmp_path / "a.csv").write_text(header + "".join(rows[:150]), encoding="utf-8")
    (tmp_path / "b.csv").write_text(header + "".join(rows[150:]), encoding="utf-8")
    engine = make_engine(sqlite_url)
    import_ban_files(engine, [tmp_path / "a.csv", tmp_path / "b.csv"])
    assert _counts(engine)[1] == 300
    engine.dispose()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id;numero;nom_voie;code_postal\n93010_x_00001;1;Rue X;93140\n", "missing columns"),
        ("", "empty file"),
        ("not;a;ban\n", "missing columns"),
    ],
)
def test_broken_csv_is_refused_and_the_database_unchanged(
    db: Engine, tmp_path: Path, content: str, message: str
) -> None:
    import_ban_files(db, [BAN_BONDY])
    broken = tmp_path / "adresses-93.csv"
    broken.write_text(content, encoding="utf-8")
    with pytest.raises(ImportRefused, match=message):
        import_ban_files(db, [broken])
    assert _counts(db) == (BONDY_STREETS, BONDY_ADDRESSES)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "x.csv.gz"
    with gzip.open(broken, "wt", encoding="utf-8") as fh:
        fh.write("id;numero;rep;nom_voie;code_postal;code_insee;nom_commune\n")
    with pytest.raises(ImportRefused) as info:
        import_ban_files(make_engine("sqlite://"), [broken])
    assert "lon, lat" in info.value.detail


def test_corrupt_gzip_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "adresses-93.csv.gz"
    bad.write_bytes(BAN_BONDY.read_bytes()[:5000])  # truncated download
    engine = make_engine(sqlite_url)
    with pytest.raises(ImportRefused, match="unreadable"):
        import_ban_files(engine, [bad])
    assert _counts(engine) == (0, 0)
    engine.dispose()


def test_bad_rows_are_skipped_and_counted(sqlite_url: str, tmp_path: Path) -> None:
    with gzip.open(BAN_BONDY, "rt", encoding="utf-8") as src:
        lines = [next(src) for _ in range(11)]
    reader = list(csv.reader(io.StringIO("".join(lines)), delimiter=";"))
    reader[3][12] = "not-a-number"  # lon
    reader[4] = reader[4][:5]  # truncated row
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows(reader)
    path = tmp_path / "x.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    engine = make_engine(sqlite_url)
    (report,) = import_ban_files(engine, [path])
    assert (report.addresses, report.skipped) == (8, 2)
    engine.dispose()


def test_address_ids_not_following_the_pattern_are_kept(sqlite_url: str, tmp_path: Path) -> None:
    with gzip.open(BAN_BONDY, "rt", encoding="utf-8") as src:
        lines = [next(src) for _ in range(6)]
    lines[3] = "custom-id;" + lines[3].split(";", 1)[1]  # the third address
    path = tmp_path / "x.csv"
    path.write_text("".join(lines), encoding="utf-8")
    engine = make_engine(sqlite_url)
    import_ban_files(engine, [path])
    geocoder = LocalGeocoder.load(engine)
    engine.dispose()
    found = {
        c.housenumber: c.id
        for n in ("1", "2", "3", "4")
        for c in geocoder.search(AddressQuery(numero=n, voie="Allee Marguerite Duras"))
    }
    assert found == {
        "1": "93010_i7xf1o_00001",
        "2": "93010_i7xf1o_00002",
        "3": "custom-id",
        "4": "93010_i7xf1o_00004",
    }


def test_load_from_each_backend_geocodes(db: Engine) -> None:
    import_ban_files(db, [BAN_BONDY])
    geocoder = LocalGeocoder.load(db)
    assert (geocoder.street_count, geocoder.address_count) == (BONDY_STREETS, BONDY_ADDRESSES)
    best = _best(geocoder, "6 ter rue du Vieux Château 93140 Bondy")
    assert (best.id, best.lon, best.lat) == VIEUX_CHATEAU_6_TER


def test_cli_import(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", sqlite_url)
    assert qpv_main(["geocoder", "import", str(BAN_BONDY)]) == 0
    assert "8413 addresses" in capsys.readouterr().out
    engine = make_engine(sqlite_url)
    assert _counts(engine) == (BONDY_STREETS, BONDY_ADDRESSES)
    engine.dispose()
    assert qpv_main(["geocoder", "geocode", "3 bis rue du vieux chateau bondy"]) == 0
    assert VIEUX_CHATEAU_3_BIS[0] not in capsys.readouterr().err


def test_cli_refuses_a_broken_file(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", sqlite_url)
    broken = tmp_path / "broken.csv"
    broken.write_text("a;b\n1;2\n", encoding="utf-8")
    assert qpv_main(["geocoder", "import", str(broken)]) == 2
    assert "missing columns" in capsys.readouterr().err


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
    best = _best(local_geocoder, "9 rue du Vieux Château 93140 Bondy")  # 9 does not exist
    assert best.type == MatchType.STREET
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


def test_an_empty_database_loads_and_finds_nothing(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    geocoder = LocalGeocoder.load(engine)
    engine.dispose()
    assert (geocoder.street_count, geocoder.address_count) == (0, 0)
    assert geocoder.search(AddressQuery(q="12 rue de la Paix 75002 Paris")) == []
    assert geocoder.search(AddressQuery(q="12 rue de la Paix")) == []
    assert not geocoder.has_commune("75056")
