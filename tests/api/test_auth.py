"""Access control: bearer keys, a scope per route, jobs visible to their key only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.errors import NotReady
from app.main import create_app
from app.settings import Settings
from tests.api.access_fixtures import Closed, bearer, closed_settings

POINT = "/v1/point?lat=48.88699&lon=2.35313"
CSV = b"id;lat;lon\n0;48,88699;2,35313\n"
# (method, path, scope the route needs)
ROUTES = [
    ("GET", POINT, "lookup"),
    ("GET", "/v1/address?q=1 rue de la Paix 75002 Paris", "lookup"),
    ("GET", "/v1/qpv?limit=1", "lookup"),
    ("GET", "/v1/qpv/QN07501M", "lookup"),
    ("GET", "/v1/datasets", "lookup"),
    ("GET", "/v1/map/qpv?band=0", "lookup"),
    ("POST", "/v1/batch", "batch"),
    ("POST", "/v1/batch/csv", "batch"),
    ("GET", "/v1/jobs/nope", "batch"),
    ("POST", "/v1/gaps", "batch"),
    ("GET", "/v1/admin/keys", "admin"),
    ("POST", "/v1/admin/reload", "admin"),
    ("GET", "/v1/not-a-route", "admin"),  # unlisted /v1 paths: deny by default
    # API Adresse's interface: the scopes of the /v1 siblings, with and without the slash.
    ("GET", "/search/?q=1 rue de la Paix 75002 Paris", "lookup"),
    ("GET", "/search?q=1 rue de la Paix 75002 Paris", "lookup"),
    ("GET", "/reverse/?lat=48.88699&lon=2.35313", "lookup"),
    ("POST", "/search/csv/", "batch"),
    ("POST", "/reverse/csv", "batch"),
]
IDS = [f"{m} {p.split('?')[0]}" for m, p, _ in ROUTES]
assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES, ids=IDS)
def test_a_request_without_a_key_is_a_401_problem_with_a_bearer_challenge(
    closed_app: Closed, method: str, path: str, scope: str
) -> None:
    response = closed_app.client.request(method, path)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="qpv"'
    assert response.json()["type"].endswith("/unauthorized")
    assert response.headers["x-request-id"]  # refused answers pass the service middleware


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES, ids=IDS)
def test_a_key_without_the_route_s_scope_is_a_403_naming_the_scope(
    closed_app: Closed, method: str, path: str, scope: str
) -> None:
    wrong = "batch" if scope != "batch" else "lookup"
    response = closed_app.client.request(method, path, headers=closed_app.auth(wrong))
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")
    challenge = response.headers["www-authenticate"]
    assert challenge == f'Bearer realm="qpv", error="insufficient_scope", scope="{scope}"'


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [r for r in ROUTES if r[1] != "/v1/admin/reload"],  # reloads: tests/api/test_admin.py
    ids=[i for i, r in zip(IDS, ROUTES, strict=True) if r[1] != "/v1/admin/reload"],
)
def test_a_key_with_the_route_s_scope_gets_through(
    closed_app: Closed, method: str, path: str, scope: str
) -> None:
    response = closed_app.client.request(method, path, headers=closed_app.auth(scope))
    assert response.status_code not in (401, 403, 429)
    assert response.headers["content-type"] != "application/problem+json" or (
        "unauthorized" not in response.text and "forbidden" not in response.text
    )


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer qpv_" + "A" * 43,  # the shape of a key, but no such key
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
    ids=["unknown", "malformed", "basic", "empty"],
)
def test_an_unknown_or_malformed_key_is_a_401_invalid_token(
    closed_app: Closed, authorization: str
) -> None:
    response = closed_app.client.get(POINT, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="qpv", error="invalid_token"'


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs", "/metrics"])
def test_probes_metrics_and_docs_need_no_key(closed_app: Closed, path: str) -> None:
    assert closed_app.client.get(path).status_code == 200


def test_a_revoked_key_is_refused_and_a_created_one_works(closed_app: Closed) -> None:
    client, admin = closed_app.client, closed_app.auth("admin")
    new = {"name": "partner", "scopes": ["lookup"]}
    created = client.post("/v1/admin/keys", json=new, headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith(body["shown"]) and body["scopes"] == ["lookup"]
    assert client.get(POINT, headers=bearer(body["key"])).status_code == 200
    listed = {k["id"]: k for k in client.get("/v1/admin/keys", headers=admin).json()}
    assert "key" not in listed[body["id"]] and listed[body["id"]]["revoked_at"] is None
    assert client.delete(f"/v1/admin/keys/{body['id']}", headers=admin).status_code == 204
    assert client.get(POINT, headers=bearer(body["key"])).status_code == 401
    assert client.delete(f"/v1/admin/keys/{body['id']}", headers=admin).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["write"]},
        {"name": "x", "scopes": ["lookup"], "rate_per_min": False},  # not a number of requests
        {"name": "x", "scopes": ["lookup"], "rate_per_min": "10"},
    ],
    ids=["unknown scope", "boolean rate", "text rate"],
)
def test_a_key_request_out_of_its_schema_is_a_422(closed_app: Closed, body: dict[str, Any]) -> None:
    response = closed_app.client.post("/v1/admin/keys", json=body, headers=closed_app.auth("admin"))
    assert response.status_code == 422


@pytest.mark.parametrize("key_id", ["0", "2147483648", "1530374391140"])
def test_a_key_id_out_of_range_is_a_422_not_a_database_error(
    closed_app: Closed, key_id: str
) -> None:
    response = closed_app.client.delete(
        f"/v1/admin/keys/{key_id}", headers=closed_app.auth("admin")
    )
    assert response.status_code == 422


def test_a_job_is_visible_to_the_key_that_created_it_only(closed_app: Closed) -> None:
    client = closed_app.client
    posted = client.post(
        "/v1/jobs",
        files={"data": ("a.csv", CSV, "text/csv")},
        data={"lat": "lat", "lon": "lon"},
        headers=closed_app.auth("batch"),
    )
    assert posted.status_code == 202
    job = f"/v1/jobs/{posted.json()['id']}"
    other = closed_app.auth("other")
    assert client.get(job, headers=other).status_code == 404
    assert client.get(f"{job}/result", headers=other).status_code == 404
    assert client.delete(job, headers=other).status_code == 404
    gaps = client.post("/v1/gaps", data={"job": posted.json()["id"], "outcome": "x"}, headers=other)
    assert gaps.status_code == 404
    assert client.get(job, headers=closed_app.auth("batch")).json()["state"] == "queued"
    assert client.delete(job, headers=closed_app.auth("batch")).status_code == 204


def test_keys_already_seen_stay_valid_while_the_database_is_down(
    fresh_closed_app: Closed,
) -> None:
    closed_app = fresh_closed_app
    client = closed_app.client
    assert client.get(POINT, headers=closed_app.auth("lookup")).status_code == 200
    keys = client.app.state.access.keys  # type: ignore[attr-defined]
    keys.engine = create_engine("sqlite:////nonexistent-folder/down.sqlite3")  # the fault
    assert client.get(POINT, headers=closed_app.auth("lookup")).status_code == 200
    unseen = client.get(POINT, headers=closed_app.auth("other"))
    assert unseen.status_code == 503
    assert unseen.json()["type"].endswith("/not-ready")


def test_a_closed_service_does_not_start_without_the_key_secret(keyed_url: str) -> None:
    settings = Settings(database_url=keyed_url, geocoders=[], open_access=False)
    with pytest.raises(NotReady, match="QPV_API_KEY_SECRET"), TestClient(create_app(settings)):
        pass


def test_the_openapi_schema_documents_the_bearer_scheme_and_the_refusals(
    closed_app: Closed,
) -> None:
    schema = closed_app.client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    operation = schema["paths"]["/v1/point"]["get"]
    assert operation["security"] == [{"apiKey": []}]
    assert {"401", "403", "429"} <= set(operation["responses"])
    assert "`lookup` scope" in operation["description"]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_an_open_service_lets_every_request_in_and_documents_no_key(
    loaded_sqlite_url: str,
) -> None:
    settings = Settings(database_url=loaded_sqlite_url, geocoders=[], open_access=True)
    with TestClient(create_app(settings)) as client:
        assert client.get(POINT).status_code == 200
        assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_a_cors_preflight_needs_no_key_and_a_refusal_carries_the_cors_headers(
    keyed_url: str, session_namespace: str, tmp_path: Path
) -> None:
    settings = closed_settings(
        keyed_url, session_namespace, tmp_path, cors_origins=["https://admissions.example"]
    )
    origin = {"Origin": "https://admissions.example"}
    with TestClient(create_app(settings)) as client:
        preflight = client.options(
            "/v1/point",
            headers={**origin, "Access-Control-Request-Method": "GET"},
        )
        refused = client.get(POINT, headers=origin)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://admissions.example"
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "https://admissions.example"
