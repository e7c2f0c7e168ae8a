"""Impossible input gets no confident answer: coordinates outside the CRS's area of use or
swapped, undocumented number forms, unbounded echoes; HEAD on GET routes; no redirects."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from app.errors import ECHO_CHARS
from app.spatial.coordinates import lonlat_problem, xy_problem

GOUTTE_DOR = {"lat": "48.88699", "lon": "2.35313"}
GOUTTE_DOR_L93 = {"x": "652564.94", "y": "6865413.85"}


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"x": "1e308", "y": "1e308"}, "x/y are outside the area of use of EPSG:2154 (France)"),
        ({"x": "-1e308", "y": "5"}, "x/y are outside the area of use of EPSG:2154 (France)"),
        ({"x": "0", "y": "0"}, "x/y are outside the area of use of EPSG:2154 (France)"),
        (
            {"x": "6865413.85", "y": "652564.94"},
            "x/y are outside the area of use of EPSG:2154 (France); x and y look swapped: "
            "x=652564.94, y=6865413.85 would be in Hexagone et Corse",
        ),
        (
            {"x": "652564.94", "y": "6865413.85", "crs": "2975"},
            "x/y are outside the area of use of EPSG:2975 (Reunion)",
        ),
        (
            {"lat": "2.35313", "lon": "48.88699"},
            "lat/lon look swapped: lat=2.35313, lon=48.88699 is outside every territory with "
            "QPV, lat=48.88699, lon=2.35313 would be in Hexagone et Corse",
        ),
    ],
)
def test_coordinates_outside_the_area_of_use_or_swapped_are_a_422_saying_why(
    sqlite_client: TestClient, params: dict[str, str], detail: str
) -> None:
    response = sqlite_client.get("/v1/point", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == detail


@pytest.mark.parametrize(
    "params",
    [GOUTTE_DOR, GOUTTE_DOR_L93, {"lat": "-20.8789", "lon": "55.4481"}],  # Saint-Denis (974)
    ids=["wgs84", "lambert93", "reunion"],
)
def test_plausible_coordinates_are_still_answered(
    sqlite_client: TestClient, params: dict[str, str]
) -> None:
    assert sqlite_client.get("/v1/point", params=params).status_code == 200


def test_a_point_outside_every_territory_that_no_swap_explains_is_still_out(
    sqlite_client: TestClient,
) -> None:
    body = sqlite_client.get("/v1/point", params={"lat": "0", "lon": "0"}).json()
    assert body["status"] == "out"
    assert body["reason"] == "Outside every territory that has QPV in this geography."


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({**GOUTTE_DOR_L93, "crs": "2154.0"}, "crs"),
        ({**GOUTTE_DOR_L93, "crs": "٢١٥٤"}, "crs"),  # Arabic-Indic digits
        ({**GOUTTE_DOR_L93, "crs": "+2154"}, "crs"),
        ({"lat": "٤٨.٨٨٦٩٩", "lon": "2.35313"}, "lat"),
        ({"lat": "4_8.88699", "lon": "2.35313"}, "lat"),
        ({"lat": " 48.88699", "lon": "2.35313"}, "lat"),
        ({**GOUTTE_DOR, "as_of": "1704067200"}, "as_of"),  # a Unix time, not a date
        ({**GOUTTE_DOR, "as_of": "2024-01-01T00:00:00"}, "as_of"),
    ],
)
def test_only_the_documented_forms_of_numbers_and_dates_are_accepted(
    sqlite_client: TestClient, params: dict[str, str], parameter: str
) -> None:
    response = sqlite_client.get("/v1/point", params=params)
    assert response.status_code == 422
    assert [e["parameter"] for e in response.json()["errors"]] == [parameter]


def test_echoed_input_is_bounded_in_problem_details(sqlite_client: TestClient) -> None:
    code = "QN" + "9" * 10_000
    response = sqlite_client.get(f"/v1/qpv/{code}")
    assert response.status_code == 422
    body = response.json()
    assert len(body["detail"]) < 2 * ECHO_CHARS
    assert body["detail"].startswith("'QN999")
    assert all(len(str(v)) <= ECHO_CHARS for k, v in body.items() if k != "detail")
    assert len(response.content) < 1000


def test_a_long_unknown_result_column_is_not_echoed_whole(sqlite_client: TestClient) -> None:
    form = {"lat": "lat", "lon": "lon", "result_columns": "x" * 10_000}
    content = b"lat;lon\n48.88699;2.35313\n"
    response = sqlite_client.post("/v1/batch/csv", files={"data": ("f.csv", content)}, data=form)
    assert response.status_code == 422
    assert len(response.content) < 2000


def _get_routes(client: TestClient) -> list[str]:
    """Every GET path of the OpenAPI document, and the documentation pages."""
    documented = client.get("/openapi.json").json()["paths"]
    paths = [path for path, methods in documented.items() if "get" in methods]
    return [re.sub(r"\{[^}]+\}", "QN07511M", p) for p in paths] + ["/docs", "/redoc", "/metrics"]


def test_every_get_route_answers_head(sqlite_client: TestClient) -> None:
    paths = _get_routes(sqlite_client)
    assert {"/healthz", "/readyz", "/v1/point", "/v1/qpv/QN07511M", "/metrics"} <= set(paths)
    for path in paths:
        assert sqlite_client.head(path).status_code != 405, path


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/readyz", "/v1/qpv/QN07511M", "/v1/datasets", "/openapi.json", "/docs"],
)
def test_head_answers_the_get_headers_without_a_body(sqlite_client: TestClient, path: str) -> None:
    get, head = sqlite_client.get(path), sqlite_client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers.get("etag") == get.headers.get("etag")


def test_head_on_a_point_lookup_is_a_lookup_without_a_body(sqlite_client: TestClient) -> None:
    response = sqlite_client.head("/v1/point", params=GOUTTE_DOR)
    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize("path", ["/v1/qpv/QN07511M/", "/v1/point/", "/healthz/"])
def test_a_trailing_slash_is_a_404_problem_not_a_redirect_built_from_the_host(
    sqlite_client: TestClient, path: str
) -> None:
    response = sqlite_client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "location" not in response.headers
    assert "evil.example" not in response.text


# --------------------------------------------------------------------------- batches


def test_json_batch_items_with_such_coordinates_are_invalid_with_the_same_reason(
    sqlite_client: TestClient,
) -> None:
    items = [
        {"lat": 48.88699, "lon": 2.35313},
        {"lat": 2.35313, "lon": 48.88699},
        {"x": 1e308, "y": 1e308},
        {"x": 6865413.85, "y": 652564.94},
        {"x": 652564.94, "y": 6865413.85},
    ]
    answers = sqlite_client.post("/v1/batch", json=items).json()["results"]
    assert [a["status"] for a in answers] == ["in", "invalid", "invalid", "invalid", "in"]
    assert answers[1]["reason"] == lonlat_problem(48.88699, 2.35313)
    assert answers[2]["reason"] == xy_problem(1e308, 1e308, 2154)
    assert answers[3]["reason"] == xy_problem(6865413.85, 652564.94, 2154)
    assert "x and y look swapped" in answers[3]["reason"]
    assert all(a["geography"] is None for a in answers[1:4])


@pytest.mark.parametrize(
    ("form", "header", "rows", "expected"),
    [
        (
            {"lat": "lat", "lon": "lon"},
            "lat;lon",
            ["48.88699;2.35313", "2.35313;48.88699", "0;0"],
            ["in", lonlat_problem(48.88699, 2.35313), "out"],
        ),
        (
            {"x": "x", "y": "y"},
            "x;y",
            ["652564.94;6865413.85", "6865413.85;652564.94", "1e308;1e308"],
            [
                "in",
                xy_problem(6865413.85, 652564.94, 2154),
                xy_problem(1e308, 1e308, 2154),
            ],
        ),
    ],
    ids=["lat-lon", "lambert93"],
)
def test_csv_batch_rows_with_such_coordinates_are_invalid_with_the_same_reason(
    sqlite_client: TestClient,
    form: dict[str, str],
    header: str,
    rows: list[str],
    expected: list[str],
) -> None:
    content = "\n".join([header, *rows]).encode()
    response = sqlite_client.post("/v1/batch/csv", files={"data": ("f.csv", content)}, data=form)
    assert response.status_code == 200
    out = list(csv.DictReader(io.StringIO(response.text), delimiter=";"))
    got = [r["qpv_status"] if r["qpv_status"] != "invalid" else r["qpv_reason"] for r in out]
    assert got == expected
