"""``GET /v1/point`` answers with a status, the quartier, distances and provenance."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def test_a_point_in_the_goutte_d_or_answers_in(client: TestClient) -> None:
    response = client.get("/v1/point", params={"lat": 48.88699, "lon": 2.35313})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "in"
    assert body["qpv"]["code"] == "QN07511M"
    assert body["geography"] == "2024"
    assert body["dataset"]["version"] and body["dataset"]["source_name"].endswith(".geojson")
    assert body["distance_m"] > 15 and body["signed_distance_m"] == -body["distance_m"]
    assert body["territory"] == "hexagone"


@pytest.mark.parametrize(
    ("params", "geography", "code"),
    [
        ({"geography": "2015"}, "2015", "QP075012"),
        ({"as_of": "2017-09-01"}, "2015", "QP075012"),
        ({"as_of": "2024-09-01"}, "2024", "QN07511M"),
    ],
)
def test_the_geography_is_chosen_by_name_or_date(
    client: TestClient, params: dict[str, str], geography: str, code: str
) -> None:
    body = client.get("/v1/point", params={"lat": 48.88699, "lon": 2.35313, **params}).json()
    assert (body["geography"], body["qpv"]["code"]) == (geography, code)


def test_lambert93_coordinates_give_the_same_answer(client: TestClient) -> None:
    # (48.88699, 2.35313) in Lambert-93.
    body = client.get("/v1/point", params={"x": 652564.94, "y": 6865413.85}).json()
    assert body["qpv"]["code"] == "QN07511M"
    assert body["point"]["lat"] == pytest.approx(48.88699, abs=1e-5)


def test_a_point_far_from_any_quartier_names_the_nearest(client: TestClient) -> None:
    body = client.get("/v1/point", params={"lat": 48.8566, "lon": 2.3522}).json()
    assert body["status"] == "out" and body["qpv"] is None
    assert body["nearest_qpv"]["code"].startswith("QN075")
    assert body["distance_m"] > 500 and body["signed_distance_m"] == body["distance_m"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"lat": 91, "lon": 2}, "lat"),
        ({"lat": -90.5, "lon": 2}, "lat"),
        ({"lat": 48, "lon": 181}, "lon"),
        ({"lat": "nan", "lon": 2}, "lat"),
        ({"lat": "inf", "lon": 2}, "lat"),
        ({"lat": "abc", "lon": 2}, "lat"),
        ({"lat": 48, "lon": 2, "geography": "2020"}, "geography"),
        ({"lat": 48, "lon": 2, "as_of": "2024-13-01"}, "as_of"),
    ],
)
def test_invalid_parameters_get_a_problem_naming_them(
    client: TestClient, params: dict[str, object], parameter: str
) -> None:
    response = client.get("/v1/point", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 422 and body["title"]
    assert parameter in [e["parameter"] for e in body["errors"]]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "lat and lon"),
        ({"lat": 48}, "lat and lon"),
        ({"lat": 48, "lon": 2, "x": 1, "y": 2}, "lat and lon"),
        ({"x": 652296, "y": 6865175, "crs": 3857}, "crs must be one of"),
        ({"lat": 48, "lon": 2, "geography": "2024", "as_of": "2020-01-01"}, "not both"),
        ({"lat": 48.88699, "lon": 2.35313, "as_of": "2014-06-01"}, "2015-01-01"),
    ],
)
def test_inconsistent_parameters_get_a_clear_problem(
    client: TestClient, params: dict[str, object], fragment: str
) -> None:
    response = client.get("/v1/point", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert fragment in response.json()["detail"]


def test_an_overseas_point_uses_the_overseas_calendar(client: TestClient) -> None:
    # Saint-Denis de La Réunion in mid-2024: the 2015 geography was still in force there.
    body = client.get(
        "/v1/point", params={"lat": -20.88, "lon": 55.45, "as_of": "2024-06-01"}
    ).json()
    assert body["geography"] == "2015" and body["territory"] == "reunion"


def test_an_unexpected_error_is_a_500_problem_that_logs_no_input(
    loaded_sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from app.main import create_app
    from app.settings import Settings

    app = create_app(Settings(database_url=loaded_sqlite_url, geocoders=[]))

    @app.get("/boom")
    async def boom(q: str) -> None:
        raise RuntimeError(f"failed on {q}")

    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level("ERROR"):
        response = c.get("/boom", params={"q": "12 rue Secrète"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "Secrète" not in response.text
    assert "RuntimeError" in caplog.text and "Secrète" not in caplog.text
