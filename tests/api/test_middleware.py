"""The service middleware: request id, security headers, access log, ETag, timeouts, CORS."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

POINT = {"lat": 48.88699, "lon": 2.35313}  # Goutte d'Or, in QN07511M


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/point?lat=48.88699&lon=2.35313", 200), ("/v1/point?lat=99", 422), ("/nowhere", 404)],
)
def test_every_answer_carries_the_security_headers_and_a_request_id(
    sqlite_client: TestClient, path: str, status: int
) -> None:
    response = sqlite_client.get(path)
    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert len(response.headers["x-request-id"]) == 32


def test_a_callers_request_id_is_echoed_and_a_malformed_one_replaced(
    sqlite_client: TestClient,
) -> None:
    given = sqlite_client.get("/healthz", headers={"X-Request-ID": "lb-42.a"})
    assert given.headers["x-request-id"] == "lb-42.a"
    bad = sqlite_client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert bad.headers["x-request-id"] not in ("<script>", "")


def test_the_access_log_names_the_route_template_never_the_query_or_the_path(
    sqlite_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        sqlite_client.get("/v1/qpv/QN07511M", headers={"X-Request-ID": "rid-1"})
        sqlite_client.get("/v1/point", params=POINT)
    records = [r for r in caplog.records if r.name == "app.access"]
    assert [(r.__dict__["route"], r.__dict__["status"]) for r in records] == [
        ("/v1/qpv/{code}", 200),
        ("/v1/point", 200),
    ]
    assert all(r.__dict__["duration_ms"] >= 0 for r in records)
    text = caplog.text + " ".join(str(r.__dict__) for r in records)
    assert "QN07511M" not in text and "48.88699" not in text


@pytest.mark.parametrize(
    "path", ["/v1/qpv?departement=93&limit=5", "/v1/qpv/QN07511M", "/v1/datasets"]
)
def test_dataset_answers_carry_an_etag_and_answer_304_when_it_matches(
    sqlite_client: TestClient, path: str
) -> None:
    first = sqlite_client.get(path)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=300"
    assert sqlite_client.get(path).headers["etag"] == etag  # same dataset, same tag
    again = sqlite_client.get(path, headers={"If-None-Match": f'"other", {etag}'})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert sqlite_client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_etags_differ_with_the_answer_and_point_answers_carry_none(
    sqlite_client: TestClient,
) -> None:
    a = sqlite_client.get("/v1/qpv", params={"departement": "93"}).headers["etag"]
    b = sqlite_client.get("/v1/qpv", params={"departement": "75"}).headers["etag"]
    assert a != b
    point = sqlite_client.get("/v1/point", params=POINT)
    assert "etag" not in point.headers


def test_a_missing_quartier_is_not_cached(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/v1/qpv/QN99999Z")
    assert response.status_code in (404, 422)
    assert "etag" not in response.headers


@pytest.fixture
def slow_client(loaded_sqlite_url: str) -> Iterator[TestClient]:
    """An app with a 0.2 s time limit and a route that takes 5 s."""
    app = create_app(Settings(database_url=loaded_sqlite_url, geocoders=[], request_timeout_s=0.2))

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {}

    with TestClient(app) as client:
        yield client


def test_a_request_over_the_time_limit_is_a_504_problem(slow_client: TestClient) -> None:
    response = slow_client.get("/slow")
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "no answer within 0.2 s"
    assert "x-request-id" in response.headers
    assert slow_client.get("/healthz").status_code == 200


def test_cors_is_off_by_default(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/healthz", headers={"Origin": "https://admissions.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_the_configured_origins_only(loaded_sqlite_url: str) -> None:
    settings = Settings(
        database_url=loaded_sqlite_url,
        geocoders=[],
        cors_origins=["https://admissions.example"],
    )
    with TestClient(create_app(settings)) as client:
        ok = client.options(
            "/v1/point",
            headers={
                "Origin": "https://admissions.example",
                "Access-Control-Request-Method": "GET",
            },
        )
        assert ok.headers["access-control-allow-origin"] == "https://admissions.example"
        other = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
