"""/metrics and /readyz: requests per route template, lookups per status, geocoder health."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.api.metrics import Metrics, metered
from app.geocoding.ban import BanGeocoder
from app.geocoding.base import AddressQuery, Capabilities, in_process, knows_streets
from app.geocoding.local import LocalGeocoder
from app.main import create_app
from app.settings import Settings
from tests.conftest import POSTGRES_ADMIN, free_port


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == want:
            return float(match.group(2))
    return 0.0


@pytest.fixture
def fresh_client(loaded_sqlite_url: str) -> Iterator[TestClient]:
    """A new app, so that counts start at zero."""
    with TestClient(create_app(Settings(database_url=loaded_sqlite_url, geocoders=[]))) as c:
        yield c


def test_requests_and_lookups_are_counted_per_route_template_and_status(
    fresh_client: TestClient,
) -> None:
    for lat, lon in [(48.88699, 2.35313), (48.88699, 2.35313), (48.85, 2.29)]:
        fresh_client.get("/v1/point", params={"lat": lat, "lon": lon})
    fresh_client.get("/v1/qpv/QN07511M")
    fresh_client.get("/v1/point", params={"lat": 99, "lon": 2})
    response = fresh_client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    point_200 = {"method": "GET", "route": "/v1/point", "status": "200"}
    assert sample(text, "qpv_http_requests_total", **point_200) == 3
    assert sample(text, "qpv_http_requests_total", **point_200 | {"status": "422"}) == 1
    assert (
        sample(text, "qpv_http_requests_total", method="GET", route="/v1/qpv/{code}", status="200")
        == 1
    )
    assert sample(text, "qpv_lookups_total", kind="point", status="in") == 2
    assert sample(text, "qpv_lookups_total", kind="point", status="out") == 1
    latency = "qpv_http_request_duration_seconds_count"
    assert sample(text, latency, method="GET", route="/v1/point") == 4
    assert "QN07511M" not in text and "48.88" not in text


def test_geocoder_errors_are_counted_and_a_failing_geocoder_makes_readiness_degraded(
    loaded_sqlite_url: str,
) -> None:
    closed_port = free_port()  # nobody listens there: a geocoder that is down
    settings = Settings(
        database_url=loaded_sqlite_url,
        geocoders=["ban"],
        ban_url=f"http://127.0.0.1:{closed_port}",
        ban_max_retries=0,
        ban_timeout_s=1,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["checks"]["geocoder_ban"] == "ok"
        # The counters are the process's: earlier tests may have counted BAN calls too.
        calls, errors = _ban_counts(client.get("/metrics").text)
        for _ in range(3):
            assert (
                client.get("/v1/address", params={"q": "4 rue Eric Tabarly Bondy"}).status_code
                == 502
            )
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert (
            ready.json()["checks"] | {"geocoder_ban": "down", "index": "ok"}
            == ready.json()["checks"]
        )
        text = client.get("/metrics").text
    assert _ban_counts(text) == (calls + 3, errors + 3)
    assert "Tabarly" not in text


def _ban_counts(text: str) -> tuple[float, float]:
    """BAN calls of one address, and geocoder errors of every kind, so far."""
    calls = sample(text, "qpv_geocoder_calls_total", provider="ban", method="one")
    errors = [line for line in text.splitlines() if line.startswith("qpv_geocoder_errors_total{")]
    return calls, sum(float(line.rsplit(" ", 1)[1]) for line in errors)


@pytest.mark.postgis
def test_with_the_database_unreachable_points_still_answer_and_readiness_is_degraded(
    loaded_postgis_url: str,
) -> None:
    name = make_url(loaded_postgis_url).database
    settings = Settings(database_url=loaded_postgis_url, geocoders=[])
    with (
        TestClient(create_app(settings)) as client,
        psycopg.connect(POSTGRES_ADMIN, dbname="postgres", autocommit=True) as admin,
    ):
        assert client.get("/readyz").json()["status"] == "ok"
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            ready = client.get("/readyz")
            point = client.get("/v1/point", params={"lat": 48.88699, "lon": 2.35313})
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["database"] == "unreachable"
    assert ready.json()["checks"]["index"] == "ok"
    assert point.status_code == 200 and point.json()["status"] == "in"


def test_a_metered_geocoder_keeps_what_it_can_do_and_does_it(
    local_geocoder: LocalGeocoder,
) -> None:
    # What isinstance on a runtime_checkable Protocol no longer sees through the wrapper's
    # __getattr__ on Python 3.12: the capabilities are attributes, passed on.
    ban = BanGeocoder("http://127.0.0.1:9", bulk=True)
    wrapped = metered({"local": local_geocoder, "ban": ban}, Metrics())
    local, remote = wrapped["local"], wrapped["ban"]
    assert local.capabilities == Capabilities(in_process=True, street_points=True)
    assert remote.capabilities == Capabilities(bulk=True)
    assert in_process(local) and knows_streets(local)
    assert not in_process(remote) and not knows_streets(remote)
    [best, *_] = local.result(AddressQuery(q="12 rue Myrha 75018 Paris"), 5).candidates
    assert best.citycode == "75118"
    lon, lat = local.street_points(best)
    assert len(lon) == len(lat) > 1
