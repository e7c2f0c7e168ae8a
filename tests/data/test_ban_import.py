"""BAN files into the database and the offline geocoder back out, on both backends."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.cli import main as qpv_main
from app.data.ban_import import (
    import_ban_files,
    load_local_geocoder,
    load_local_geocoder_if_ready,
)
from app.db.session import make_engine
from app.errors import ImportRefused
from app.geocoding.base import AddressQuery, Candidate
from app.geocoding.local import LocalGeocoder
from tests.conftest import BAN_BONDY, BAN_PARIS

BONDY_ADDRESSES = 8413
BONDY_STREETS = 350
# Published rows of adresses-93010-bondy.csv.gz (id, lon, lat).
VIEUX_CHATEAU_3_BIS = ("93010_tt7py3_00003_bis", 2.48222, 48.895526)
VIEUX_CHATEAU_6_TER = ("93010_tt7py3_00006_ter", 2.481686, 48.895441)


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """An engine on each backend in turn (migrated, empty)."""
    engine = make_engine(database_url)
    try:
        yield engine
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


def _best(geocoder: LocalGeocoder, query: str) -> Candidate:
    result = asyncio.run(geocoder.geocode(AddressQuery(q=query), limit=5))
    assert result.best is not None, query
    return result.best


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
    first = load_local_geocoder(db).search(AddressQuery(q="3 bis rue du vieux chateau bondy"))
    import_ban_files(db, [BAN_BONDY])
    import_ban_files(db, [BAN_BONDY])
    assert _counts(db) == (BONDY_STREETS, BONDY_ADDRESSES)
    again = load_local_geocoder(db).search(AddressQuery(q="3 bis rue du vieux chateau bondy"))
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
    geocoder = load_local_geocoder(engine)
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
    geocoder = load_local_geocoder(db)
    assert (geocoder.street_count, geocoder.address_count) == (BONDY_STREETS, BONDY_ADDRESSES)
    best = _best(geocoder, "6 ter rue du Vieux Château 93140 Bondy")
    assert (best.id, best.lon, best.lat) == VIEUX_CHATEAU_6_TER


def test_an_import_builds_the_store_that_loading_maps(db: Engine, tmp_path: Path) -> None:
    import_ban_files(db, [BAN_BONDY], store_root=tmp_path)
    (store,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    built = (store / "meta.json").stat().st_mtime_ns
    geocoder = load_local_geocoder(db, tmp_path)
    assert (store / "meta.json").stat().st_mtime_ns == built  # re-used, not rebuilt
    assert (geocoder.street_count, geocoder.address_count) == (BONDY_STREETS, BONDY_ADDRESSES)
    best = _best(geocoder, "6 ter rue du Vieux Château 93140 Bondy")
    assert (best.id, best.lon, best.lat) == VIEUX_CHATEAU_6_TER


def test_a_missing_store_is_rebuilt_from_the_database(db: Engine, tmp_path: Path) -> None:
    import_ban_files(db, [BAN_BONDY], store_root=tmp_path / "a")
    # Another replica of the same database, with an empty store folder.
    geocoder = load_local_geocoder(db, tmp_path / "b")
    assert [p.name for p in (tmp_path / "b").iterdir() if p.is_dir()] == [
        p.name for p in (tmp_path / "a").iterdir() if p.is_dir()
    ]
    assert _best(geocoder, "3 bis rue du vieux chateau bondy").id == VIEUX_CHATEAU_3_BIS[0]


def test_a_new_import_makes_a_new_store(db: Engine, tmp_path: Path) -> None:
    paris = _paris_extract(tmp_path / "adresses-75-extract.csv", 500)
    store_root = tmp_path / "geocoder"
    import_ban_files(db, [BAN_BONDY], store_root=store_root)
    before = {p.name for p in store_root.iterdir() if p.is_dir()}
    import_ban_files(db, [paris], store_root=store_root)
    after = {p.name for p in store_root.iterdir() if p.is_dir()}
    assert len(before) == len(after) == 1
    assert before != after  # the older store is removed
    geocoder = load_local_geocoder(db, store_root)
    assert geocoder.address_count == BONDY_ADDRESSES + 500


def test_an_unwritable_store_folder_falls_back_to_tables_in_memory(
    db: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import_ban_files(db, [BAN_BONDY])
    not_a_folder = tmp_path / "geocoder"
    not_a_folder.write_text("", encoding="utf-8")
    geocoder = load_local_geocoder_if_ready(db, not_a_folder)
    assert geocoder is not None
    assert geocoder.address_count == BONDY_ADDRESSES
    assert "tables read into memory" in caplog.text


def test_cli_import(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("QPV_GEOCODER_DIR", str(tmp_path))
    assert qpv_main(["geocoder", "import", str(BAN_BONDY)]) == 0
    assert "8413 addresses" in capsys.readouterr().out
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1
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


def test_an_empty_database_loads_and_finds_nothing(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    geocoder = load_local_geocoder(engine)
    engine.dispose()
    assert (geocoder.street_count, geocoder.address_count) == (0, 0)
    assert geocoder.search(AddressQuery(q="12 rue de la Paix 75002 Paris")) == []
    assert geocoder.search(AddressQuery(q="12 rue de la Paix")) == []
    assert not geocoder.has_commune("75056")
