"""The run command's set-up (``make data``, what ``make run`` runs before serving) leaves any
database complete, deciding from the database's own state, not from files in the checkout."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import GEODATA, POSTGRES_ADMIN, ROOT, _pg_hostport, _pg_userinfo

ADDRESS = {"q": "4 rue Eric Tabarly 93140 Bondy"}


def _make_data(url: str, download_dir: Path) -> list[str]:
    """Run ``make data`` in this checkout against ``url``; its output lines."""
    env = os.environ | {
        "QPV_DATABASE_URL": url,
        "QPV_DATA_DIR": str(GEODATA),
        "QPV_DOWNLOAD_DIR": str(download_dir),
    }
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "data"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if ": " in line]


def _assert_complete(url: str) -> None:
    """The service on ``url`` is ready, with the offline geocoder and the divisions."""
    with TestClient(create_app(Settings(database_url=url, geocoders=["local"]))) as client:
        ready = client.get("/readyz")
        body = client.get("/v1/address", params=ADDRESS).json()
        quartiers = client.get("/v1/qpv", params={"commune": "Bondy"}).json()
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) >= {"qpv2015", "qpv2024", "divisions", "geocoder_local"}
    assert (body["status"], body["qpv"]["code"], body["geography"]) == ("in", "QN09314M", "2024")
    assert "Bondy" in body["qpv"]["communes"]
    assert quartiers["total"] == 3


@pytest.fixture
def fresh_postgis_url() -> Iterator[str]:
    """The URL of a PostgreSQL database that does not exist yet (dropped afterwards)."""
    name = f"qpv_run_{uuid.uuid4().hex[:12]}"
    yield f"postgresql+psycopg://{_pg_userinfo()}@{_pg_hostport()}/{name}"
    with psycopg.connect(POSTGRES_ADMIN, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgis
def test_the_run_setup_completes_sqlite_then_a_fresh_postgis_in_the_same_checkout(
    tmp_path: Path, fresh_postgis_url: str
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'run.sqlite3'}"
    first = _make_data(sqlite_url, tmp_path / "downloads")
    assert sum(line.startswith("imported: ") for line in first) == 5  # 1 + 2 + 2 BAN files
    _assert_complete(sqlite_url)

    # A second database from the same checkout: nothing there may pass for "done".
    on_postgis = _make_data(fresh_postgis_url, tmp_path / "downloads")
    assert [line.split(":")[0] for line in on_postgis] == [line.split(":")[0] for line in first]
    _assert_complete(fresh_postgis_url)

    # Complete already: the set-up only checks the hashes.
    again = _make_data(fresh_postgis_url, tmp_path / "downloads")
    assert again and all(line.startswith("already imported: ") for line in again)
