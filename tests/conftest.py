"""Shared fixtures: real databases (a SQLite file, a PostGIS database) and the real geodata."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from starlette.types import ASGIApp

from app.db.migrate import upgrade
from app.geocoding.local import LocalGeocoder
from app.spatial.index import QpvIndex
from deploy.topology import free_port

ROOT = Path(__file__).resolve().parents[1]
GEODATA = Path(os.environ.get("QPV_DATA_DIR", ROOT.parent / "shared" / "geodata")).resolve()
QPV2015_SHP = GEODATA / "qpv2015" / "QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp"
QPV2024_GEOJSON = GEODATA / "qpv2024" / "qpv2024_wgs84_rounded4.geojson"
BAN_PARIS = GEODATA / "ban" / "adresses-75.csv.gz"
BAN_BONDY = GEODATA / "ban" / "adresses-93010-bondy.csv.gz"
DIVISIONS_TGZ = GEODATA / "cog" / "etalab-decoupage-administratif-6.0.0.tgz"
# A server where the test user may create databases; each test gets its own.
# Apps built by tests count their own metrics; a shared multiprocess folder from the
# environment would add up every test's requests (tests of `qpv serve` set it themselves).
os.environ.pop("QPV_METRICS_DIR", None)
# Tests run the service open (no API key), as `make run` does; the access tests close it.
os.environ.setdefault("QPV_OPEN_ACCESS", "true")
POSTGRES_ADMIN = os.environ.get("QPV_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres")


@pytest.fixture(scope="session", autouse=True)
def _geocoder_store_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The mapped geocoder stores of the apps under test go to a temporary folder, not var/."""
    previous = os.environ.get("QPV_GEOCODER_DIR")
    os.environ["QPV_GEOCODER_DIR"] = str(tmp_path_factory.mktemp("geocoder"))
    yield
    if previous is None:
        os.environ.pop("QPV_GEOCODER_DIR", None)
    else:
        os.environ["QPV_GEOCODER_DIR"] = previous


@pytest.fixture(scope="session")
def geodata() -> Path:
    """The reference data folder (../shared/geodata or QPV_DATA_DIR)."""
    assert GEODATA.is_dir(), f"reference data not found at {GEODATA}"
    return GEODATA


def _sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'qpv.sqlite3'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated, empty SQLite file."""
    url = _sqlite_url(tmp_path)
    upgrade(url)
    return url


@contextmanager
def _postgis_database(prefix: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database with PostGIS, dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{_pg_userinfo()}@{_pg_hostport()}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgis_url() -> Iterator[str]:
    """A migrated, empty PostgreSQL database with PostGIS, dropped afterwards."""
    with _postgis_database("qpv_test") as url:
        yield url


# The PostgreSQL half of every two-backend test carries the marker, so that
# `pytest -m "not postgis"` runs the SQLite half alone.
BACKENDS = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
POSTGIS_FIXTURES = frozenset({"postgis_url", "loaded_postgis_url"})


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--topology``: run the end-to-end tests over the compose topology (``make e2e``)."""
    parser.addoption(
        "--topology",
        action="store_true",
        help="run the tests marked topology: real PostGIS, replicas, workers, nginx",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that asks for a PostGIS fixture by name; keep the topology tests for
    ``--topology`` (each brings up a whole deployment: `make e2e`, run by .ci/run)."""
    for item in items:
        if POSTGIS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgis)
    if config.getoption("--topology"):
        return
    deselected = [item for item in items if item.get_closest_marker("topology")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("topology")]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: a migrated SQLite file, then a migrated PostGIS database."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgis_url"
    url: str = request.getfixturevalue(fixture)
    return url


def _pg_conninfo() -> dict[str, str]:
    return dict(psycopg.conninfo.conninfo_to_dict(POSTGRES_ADMIN))  # type: ignore[arg-type]


def _pg_userinfo() -> str:
    info = _pg_conninfo()
    user = info.get("user", "postgres")
    return f"{user}:{info['password']}" if info.get("password") else user


def _pg_hostport() -> str:
    info = _pg_conninfo()
    return f"{info.get('host', '127.0.0.1')}:{info.get('port', '5432')}"


def _import_both(url: str) -> None:
    """Both geographies and the administrative divisions, as `qpv data sync` leaves them."""
    from app.data.divisions import import_divisions
    from app.data.importer import import_qpv_file
    from app.db.session import make_engine

    engine = make_engine(url)
    import_divisions(engine, DIVISIONS_TGZ)
    import_qpv_file(engine, QPV2015_SHP)
    import_qpv_file(engine, QPV2024_GEOJSON)
    engine.dispose()


@pytest.fixture(scope="session")
def loaded_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file holding both geographies and the divisions (read-only for tests)."""
    url = _sqlite_url(tmp_path_factory.mktemp("loaded"))
    upgrade(url)
    _import_both(url)
    return url


@pytest.fixture(scope="session")
def loaded_postgis_url() -> Iterator[str]:
    """A PostGIS database holding both geographies and the divisions (read-only for tests)."""
    with _postgis_database("qpv_test_loaded") as url:
        _import_both(url)
        yield url


@pytest.fixture(scope="session")
def qpv_index(loaded_sqlite_url: str) -> QpvIndex:
    """The in-memory index of both geographies, as the service loads it."""
    from app.db.divisions import load_divisions
    from app.db.loader import load_index
    from app.db.session import make_engine

    engine = make_engine(loaded_sqlite_url)
    return load_index(engine, load_divisions(engine))


@pytest.fixture(scope="session")
def geocoded_sqlite_url(loaded_sqlite_url: str) -> str:
    """The loaded SQLite file plus the offline geocoder's tables (Bondy and Paris BAN)."""
    from app.data.ban_import import import_ban_files
    from app.db.session import make_engine

    import_ban_files(make_engine(loaded_sqlite_url), [BAN_BONDY, BAN_PARIS])
    return loaded_sqlite_url


@pytest.fixture(scope="session")
def local_geocoder(geocoded_sqlite_url: str) -> LocalGeocoder:
    """The offline geocoder built from the Bondy and Paris BAN files."""
    from app.data.ban_import import load_local_geocoder
    from app.db.session import make_engine

    return load_local_geocoder(make_engine(geocoded_sqlite_url))


# --- addok_server: a real addok (BAN search engine) on loopback, for the `ban` provider ---
# Redis location for the addok tests; databases are picked by addok_server.claim_redis_dbs.
ADDOK_REDIS = os.environ.get("QPV_TEST_REDIS", "127.0.0.1:6379")


@pytest.fixture(scope="session")
def addok_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of an addok serving the Bondy BAN extract (/search and /search/csv)."""
    from tests.geocoding.addok_server import AddokServer, check_redis, claim_redis_dbs

    host, _, port = ADDOK_REDIS.rpartition(":")
    check_redis(host, int(port))
    assert BAN_BONDY.is_file(), f"BAN extract not found at {BAN_BONDY}"
    workdir: Path = tmp_path_factory.mktemp("addok")
    with claim_redis_dbs(host, int(port)) as redis_target:
        server = AddokServer(BAN_BONDY, workdir, redis_target)
        try:
            server.build()
            yield server.start()
        finally:
            server.stop()
            redis_target.flush()


@pytest.fixture(scope="session")
def admissions(qpv_index: QpvIndex) -> Any:
    """20,000 synthetic applicants from the Paris and Bondy BAN extracts, seed 42."""
    from app.stats import example

    ban = example.read_ban([BAN_PARIS, BAN_BONDY])
    return example.admissions(ban, qpv_index, rows=20_000, seed=42)


@pytest.fixture(scope="session")
def admissions_csv(admissions: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic applicants with their tagging columns, as a batch would write them."""
    from app.stats import example

    path = tmp_path_factory.mktemp("admissions") / "admissions-tagged.csv"
    example.tagged_file(admissions).to_csv(path, index=False)
    return path


@contextmanager
def running_server(app: ASGIApp, seconds: float = 120) -> Iterator[str]:
    """``app`` served by uvicorn on a loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + seconds
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
