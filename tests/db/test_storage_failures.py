"""Storage failing under a running service, and start-up on a database the code cannot use.

While serving: a SQLite file deleted or replaced by garbage, a PostgreSQL database gone
(its connections killed and the database renamed: the shared server keeps running). Database
routes answer a 503 problem, /readyz says so on every call, point lookups keep answering
from memory; once the storage is back, everything is green again.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.db.migrate import require_schema, upgrade
from app.errors import DatabaseNotReady
from app.main import create_app
from app.settings import Settings
from tests.conftest import POSTGRES_ADMIN, QPV2024_GEOJSON, _pg_hostport, _pg_userinfo

POINT = {"lat": "48.88699", "lon": "2.35313"}
Breakage = tuple[str, Callable[[], None], Callable[[], None]]


def _import_2024(url: str) -> None:
    from app.data.importer import import_qpv_file
    from app.db.session import make_engine

    engine = make_engine(url)
    import_qpv_file(engine, QPV2024_GEOJSON)
    engine.dispose()


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the 2024 geography, copied by each test."""
    path = tmp_path_factory.mktemp("source") / "qpv.sqlite3"
    upgrade(f"sqlite:///{path}")
    _import_2024(f"sqlite:///{path}")
    return path


@contextmanager
def _sqlite(source: Path, folder: Path, how: str) -> Iterator[Breakage]:
    path = folder / "qpv.sqlite3"
    shutil.copy(source, path)
    aside = folder / "aside.sqlite3"

    def break_it() -> None:
        os.rename(path, aside)
        if how == "corrupt":
            path.write_bytes(b"\x00garbage, not a database" * 4096)

    def restore() -> None:
        os.replace(aside, path)

    yield f"sqlite:///{path}", break_it, restore


def _admin(sql: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN, dbname="postgres", autocommit=True) as admin:
        admin.execute(sql)


@contextmanager
def _postgis() -> Iterator[Breakage]:
    """A throwaway PostGIS database; "stopping" it kills its connections and renames it."""
    name = f"qpv_harden_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{_pg_userinfo()}@{_pg_hostport()}/{name}"

    def break_it() -> None:
        _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        _admin(f'ALTER DATABASE "{name}" RENAME TO "{name}_gone"')

    def restore() -> None:
        _admin(f'ALTER DATABASE "{name}_gone" RENAME TO "{name}"')
        _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    try:
        upgrade(url)
        _import_2024(url)
        yield url, break_it, restore
    finally:
        for db in (name, f"{name}_gone"):
            _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(
    params=[
        "sqlite-deleted",
        "sqlite-corrupt",
        pytest.param("postgis-stopped", marks=pytest.mark.postgis),
    ]
)
def breakage(
    request: pytest.FixtureRequest, sqlite_source: Path, tmp_path: Path
) -> Iterator[Breakage]:
    """(url, break, restore) for each way storage fails under a running service."""
    if request.param == "postgis-stopped":
        with _postgis() as value:
            yield value
        return
    with _sqlite(sqlite_source, tmp_path, request.param.split("-")[1]) as value:
        yield value


def test_a_storage_failure_is_a_503_on_db_routes_and_readyz_says_so_every_time(
    breakage: Breakage,
) -> None:
    url, break_it, restore = breakage
    with TestClient(create_app(Settings(database_url=url, geocoders=[]))) as client:
        assert client.get("/v1/datasets").status_code == 200
        assert client.get("/readyz").json()["checks"]["database"] == "ok"
        break_it()
        datasets = [client.get("/v1/datasets") for _ in range(10)]
        assert {r.status_code for r in datasets} == {503}
        assert datasets[0].headers["content-type"] == "application/problem+json"
        assert datasets[0].json()["title"] == "Storage unavailable"
        ready = [client.get("/readyz") for _ in range(10)]
        assert {(r.status_code, r.json()["status"]) for r in ready} == {(200, "degraded")}
        assert {r.json()["checks"]["database"] for r in ready} == {"unreachable"}
        points = [client.get("/v1/point", params=POINT) for _ in range(10)]
        assert {(r.status_code, r.json()["status"]) for r in points} == {(200, "in")}
        restore()
        assert client.get("/v1/datasets").status_code == 200
        assert client.get("/readyz").json()["checks"]["database"] == "ok"


def test_a_deleted_sqlite_file_is_not_recreated_empty_by_the_service(
    sqlite_source: Path, tmp_path: Path
) -> None:
    with _sqlite(sqlite_source, tmp_path, "deleted") as (url, break_it, _):
        with TestClient(create_app(Settings(database_url=url, geocoders=[]))) as client:
            break_it()
            client.get("/readyz")
            client.get("/v1/datasets")
        assert not (tmp_path / "qpv.sqlite3").exists()


# --------------------------------------------------------------------------- start-up


def _too_new(path: Path) -> None:
    """Migrated, then marked with a revision this code does not have (newer code's)."""
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda path: None, r"^no database at .*: run 'qpv db upgrade'$"),
        (lambda path: sqlite3.connect(path).close(), r"is not migrated .*run 'qpv db upgrade'$"),
        (
            lambda path: path.write_bytes(b"garbage" * 1000),
            r"is not a readable SQLite database \(DatabaseError\): restore it from a backup, "
            r"or move it away and run 'qpv setup'$",
        ),
        (
            _too_new,
            r"is at revision 9999, which this code does not know \(it needs \w+\): run the "
            r"version of the service that migrated it, or restore a backup$",
        ),
    ],
    ids=["missing", "unmigrated", "corrupt", "too-new"],
)
def test_start_up_on_an_unusable_database_is_one_line_saying_what_to_run(
    tmp_path: Path, prepare: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "qpv.sqlite3"
    prepare(path)
    url = f"sqlite:///{path}"
    with pytest.raises(DatabaseNotReady, match=message) as caught:
        require_schema(url)
    assert "\n" not in caught.value.detail
    with (
        pytest.raises(DatabaseNotReady, match=message),
        TestClient(create_app(Settings(database_url=url, geocoders=[]))),
    ):
        pass


@pytest.mark.postgis
def test_start_up_on_a_postgresql_schema_the_code_does_not_know_is_refused(
    postgis_url: str,
) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgis_url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(DatabaseNotReady, match="is at revision 9999, which this code does not"):
        require_schema(postgis_url)
