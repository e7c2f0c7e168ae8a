"""The application through ``create_app`` and its lifespan, on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import BACKENDS


@pytest.fixture(scope="module", params=BACKENDS)
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A client of the app loaded from a SQLite file, then from PostGIS."""
    url = request.getfixturevalue(f"loaded_{request.param}_url")
    with TestClient(create_app(Settings(database_url=url, geocoders=[]))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sqlite_client(loaded_sqlite_url: str) -> Iterator[TestClient]:
    """A client of the app on the embedded default only."""
    with TestClient(create_app(Settings(database_url=loaded_sqlite_url, geocoders=[]))) as c:
        yield c


@pytest.fixture(scope="module")
def geocoding_client(geocoded_sqlite_url: str) -> Iterator[TestClient]:
    """A client of the app with the offline geocoder (Bondy and Paris BAN)."""
    settings = Settings(database_url=geocoded_sqlite_url, geocoders=["local"])
    with TestClient(create_app(settings)) as c:
        yield c


# The job routes need Redis and workers: the fixtures of tests/jobs; a closed service (API
# keys required): the fixtures of the access tests.
from tests.api.access_fixtures import closed_app, fresh_closed_app, keyed_url  # noqa: E402, F401
from tests.jobs.conftest import job_settings, jobs_client, session_namespace  # noqa: E402, F401
