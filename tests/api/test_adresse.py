"""API Adresse's interface beside /v1: /search/, /reverse/, /search/csv/, /reverse/csv/."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.batch.options import QPV_COLUMNS
from app.geocoding.adresse import REVERSE_CSV_COLUMNS, SEARCH_CSV_COLUMNS

TABARLY = "4 Rue Eric Tabarly 93140 Bondy"


def INVALID(name: str) -> str:  # noqa: N802 (reads as addok's message)
    return f'The "{name}" parameter is invalid.'


ADMISSIONS = (
    "id;adresse;code_postal;ville\n"
    "1;4 rue Eric Tabarly;93140;Bondy\n"
    "2;;;\n"
    "3;37 bis rue Myrha;75018;Paris\n"
    "4;12 rue qui n'existe pas du tout;93140;Bondy\n"
)


def _csv(text: str, delimiter: str = ";") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _post(client: TestClient, path: str, data: dict[str, Any], body: str = ADMISSIONS) -> Any:
    return client.post(path, files={"data": ("admissions.csv", body.encode())}, data=data)


@pytest.mark.parametrize("path", ["/search/", "/search"])
def test_search_answers_geocodejson_with_the_qpv_answer(
    geocoding_client: TestClient, path: str
) -> None:
    response = geocoding_client.get(path, params={"q": "4 rue Eric Tabarly 93140 Bondy"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert (body["type"], body["version"], body["attribution"], body["licence"]) == (
        "FeatureCollection", "draft", "BAN", "ETALAB-2.0",
    )  # fmt: skip
    assert (body["query"], body["limit"]) == ("4 rue Eric Tabarly 93140 Bondy", 5)
    feature = body["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [2.48232, 48.912288]}
    props = feature["properties"]
    assert list(props)[:15] == [
        "label", "score", "housenumber", "id", "name", "postcode", "citycode", "x", "y",
        "city", "context", "type", "importance", "street", "qpv_status",
    ]  # fmt: skip
    assert props["label"] == TABARLY
    assert props["name"] == "4 Rue Eric Tabarly"
    assert props["context"] == "93, Seine-Saint-Denis, Île-de-France"
    assert (props["x"], props["y"]) == pytest.approx((662056.75, 6868157.05), abs=0.05)
    assert (props["qpv_status"], props["qpv_code"], props["qpv_geography"]) == (
        "in", "QN09314M", "2024",
    )  # fmt: skip
    assert props["qpv_dataset"] == "4fc7cc183111"
    assert props["qpv_distance_m"] == pytest.approx(222.0, abs=1)


def test_autocompletion_suggests_the_street_for_its_start(geocoding_client: TestClient) -> None:
    body = geocoding_client.get(
        "/search/", params={"q": "4 rue eric tab", "autocomplete": 1}
    ).json()
    assert body["features"][0]["properties"]["label"] == TABARLY
    assert body["features"][0]["properties"]["qpv_code"] == "QN09314M"


def test_the_first_feature_has_the_status_v1_address_gives(geocoding_client: TestClient) -> None:
    q = "rue Polonceau 75018 Paris"
    first = geocoding_client.get("/search/", params={"q": q}).json()["features"][0]
    address = geocoding_client.get("/v1/address", params={"q": q}).json()
    assert first["properties"]["qpv_status"] == address["status"] == "street_partial"
    assert first["properties"]["label"] == address["geocoding"]["label"]


def test_filters_are_strict_and_echoed(geocoding_client: TestClient) -> None:
    body = geocoding_client.get(
        "/search/", params={"q": "rue de rivoli", "citycode": "75104", "type": "street"}
    ).json()
    assert body["features"]
    assert {f["properties"]["citycode"] for f in body["features"]} == {"75104"}
    assert body["filters"] == {"type": ["street"], "citycode": ["75104"]}


def test_the_geography_is_picked_as_on_v1(geocoding_client: TestClient) -> None:
    params = {"q": "4 rue Eric Tabarly 93140 Bondy", "as_of": "2019-09-01"}
    props = geocoding_client.get("/search/", params=params).json()["features"][0]["properties"]
    assert props["qpv_geography"] == "2015"
    assert props["qpv_code"].startswith("QP093")


@pytest.mark.parametrize("path", ["/reverse/", "/reverse"])
def test_reverse_answers_the_nearest_address_with_its_distance(
    geocoding_client: TestClient, path: str
) -> None:
    body = geocoding_client.get(path, params={"lat": "48.9", "lon": "2.48"}).json()
    (feature,) = body["features"]
    props = feature["properties"]
    assert props["label"] == "12 Rue Louis Auguste Blanqui 93140 Bondy"
    assert props["distance"] == 15
    assert props["qpv_status"] == "out"
    assert body["limit"] == 1 and "query" not in body


@pytest.mark.parametrize(
    ("query", "status", "parameter", "description"),
    [
        ("", 400, "q", 'The "q" parameter is required.'),
        ("?q=", 400, "q", 'The "q" parameter is required.'),
        ("?q=abc&limit=x", 400, "limit", f"{INVALID('limit')} The value must be an integer."),
        ("?q=abc&limit=101", 400, "limit", f"{INVALID('limit')} out of range (1..100)"),
        ("?q=abc&lat=100&lon=2", 400, "lat", 'The "lat" parameter is invalid. out of range'),
        ("?q=abc&lat=48", 400, "lon", 'The "lon" parameter is required.'),
        ("?q=abc&type=city", 400, "type", None),
        ("?q=abc&postcod=93140", 400, "postcod", None),
        ("?q=abc&postcode=99999", 400, "postcode", None),
        ("?q=abc&geography=2015&as_of=2019-01-01", 400, "as_of", None),
    ],
)  # fmt: skip
def test_a_bad_search_parameter_is_addok_s_400_as_a_problem(
    geocoding_client: TestClient,
    query: str,
    status: int,
    parameter: str,
    description: str | None,
) -> None:
    response = geocoding_client.get(f"/search/{query}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["parameter"] == parameter
    assert problem["code"] == 400 and problem["message"] == problem["description"]
    if description is not None:
        assert problem["description"] == description


def test_a_query_past_200_characters_is_a_413(geocoding_client: TestClient) -> None:
    response = geocoding_client.get("/search/", params={"q": "a" * 201})
    assert response.status_code == 413
    assert "Query too long, 201 chars, limit is 200" in response.json()["detail"]


def test_the_documented_csv_call_returns_every_column_in_order(
    geocoding_client: TestClient,
) -> None:
    response = _post(
        geocoding_client, "/search/csv/", {"columns": "adresse", "postcode": "code_postal"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    header, *rows = _csv(response.text)
    assert header == ["id", "adresse", "code_postal", "ville", *SEARCH_CSV_COLUMNS, *QPV_COLUMNS]
    assert len(rows) == 4 and [r[0] for r in rows] == ["1", "2", "3", "4"]
    found = dict(zip(header, rows[0], strict=True))
    assert found["result_label"] == TABARLY
    assert found["result_id"] == "93010_gs2x3y_00004"
    assert (found["result_name"], found["result_street"]) == (
        "4 Rue Eric Tabarly",
        "Rue Eric Tabarly",
    )
    assert (found["result_status"], found["qpv_status"], found["qpv_code"]) == (
        "ok",
        "in",
        "QN09314M",
    )
    assert dict(zip(header, rows[1], strict=True))["result_status"] == "skipped"
    paris = dict(zip(header, rows[2], strict=True))
    assert paris["result_district"] == "Paris 18e Arrondissement"
    assert paris["result_housenumber"] == "37bis"
    assert dict(zip(header, rows[3], strict=True))["result_status"] == "not-found"


def test_without_columns_every_column_is_joined(geocoding_client: TestClient) -> None:
    body = "adresse,commune\n4 rue Eric Tabarly,93140 Bondy\n"
    header, row = _csv(_post(geocoding_client, "/search/csv", {}, body).text, ",")
    assert dict(zip(header, row, strict=True))["result_label"] == TABARLY


def test_result_columns_pick_api_adresse_s_and_keep_the_qpv_ones(
    geocoding_client: TestClient,
) -> None:
    data = {"columns": "adresse", "result_columns": ["result_label", "result_status"]}
    header, *_ = _csv(_post(geocoding_client, "/search/csv/", data).text)
    assert header == ["id", "adresse", "code_postal", "ville", "result_label", "result_status",
                      *QPV_COLUMNS]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "parameter"),
    [({"columns": "nope"}, "columns"), ({"adresse": "x"}, "adresse"),
     ({"result_columns": "result_x"}, "result_columns"), ({"lat": "ville"}, "lon")],
)  # fmt: skip
def test_a_bad_csv_form_is_a_400_naming_the_field(
    geocoding_client: TestClient, data: dict[str, str], parameter: str
) -> None:
    response = _post(geocoding_client, "/search/csv/", data)
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == parameter


def test_reverse_csv_gives_each_row_its_nearest_address_and_its_own_qpv_answer(
    geocoding_client: TestClient,
) -> None:
    body = "nom,latitude,longitude\na,48.9,2.48\nb,,\nc,48.88699,2.35313\n"
    response = _post(geocoding_client, "/reverse/csv/", {}, body)
    header, *rows = _csv(response.text, ",")
    assert header == ["nom", "latitude", "longitude", *REVERSE_CSV_COLUMNS, *QPV_COLUMNS]
    first, empty, goutte = (dict(zip(header, r, strict=True)) for r in rows)
    assert (first["result_distance"], first["result_status"]) == ("15", "ok")
    assert empty["result_status"] == "skipped"
    assert (goutte["qpv_status"], goutte["qpv_code"]) == ("in", "QN07511M")  # the row's point


def test_lat_and_lon_name_a_point_to_prefer_results_near(geocoding_client: TestClient) -> None:
    # 3 Rue Etienne Dolet is in Bondy and in Paris 20e, equally well.
    body = "adresse,lat,lon\n3 Rue Etienne Dolet,48.90,2.48\n3 Rue Etienne Dolet,48.87,2.39\n"
    data = {"columns": "adresse", "lat": "lat", "lon": "lon"}
    header, *rows = _csv(_post(geocoding_client, "/search/csv/", data, body).text, ",")
    codes = [dict(zip(header, r, strict=True))["result_citycode"] for r in rows]
    assert codes == ["93010", "75120"]
    # The same on a search: the point given decides between the two communes.
    for lat, lon, code in (("48.90", "2.48", "93010"), ("48.87", "2.39", "75120")):
        params = {"q": "3 Rue Etienne Dolet", "lat": lat, "lon": lon, "autocomplete": 0}
        found = geocoding_client.get("/search/", params=params).json()
        assert found["features"][0]["properties"]["citycode"] == code
        assert found["center"] == [float(lon), float(lat)]


def test_every_row_comes_back_in_order_however_malformed(geocoding_client: TestClient) -> None:
    body = (
        ADMISSIONS + '\n5;1 rue X;93140;Bondy;extra;fields\n6;"4 rue Eric\nTabarly";93140;Bondy\n'
    )
    response = _post(geocoding_client, "/search/csv/", {"columns": "adresse"}, body)
    header, *rows = _csv(response.text)
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "", "5", "6"]
    statuses = [dict(zip(header, r, strict=True))["result_status"] for r in rows]
    assert statuses[4] == "skipped"  # the empty line: an invalid row, kept
    # A row longer than the header keeps its extra fields in its last column.
    assert dict(zip(header, rows[5], strict=True))["ville"] == "Bondy;extra;fields"
