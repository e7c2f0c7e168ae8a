"""``GET /v1/address``: geocoding and QPV answer in one call, errors as problems."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def test_an_address_in_a_qpv_answers_in_with_its_geocoding(geocoding_client: TestClient) -> None:
    response = geocoding_client.get("/v1/address", params={"q": "4 rue Eric Tabarly 93140 Bondy"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "in"
    assert body["qpv"]["code"] == "QN09314M"
    assert body["geocoding"]["provider"] == "local"
    assert body["geocoding"]["type"] == "housenumber"
    assert body["geocoding"]["citycode"] == "93010"
    assert body["geocoding"]["score"] >= 0.9
    assert body["point"]["status"] == "in"
    assert body["geography"] == "2024" and body["dataset"]["version"]


def test_structured_fields_and_as_of_work(geocoding_client: TestClient) -> None:
    params = {
        "numero": "4",
        "voie": "rue Eric Tabarly",
        "code_postal": "93140",
        "commune": "Bondy",
        "as_of": "2019-09-01",
    }
    body = geocoding_client.get("/v1/address", params=params).json()
    assert (body["status"], body["qpv"]["code"], body["geography"]) == ("in", "QP093014", "2015")


def test_a_street_partly_in_a_qpv_reports_its_spread(geocoding_client: TestClient) -> None:
    body = geocoding_client.get("/v1/address", params={"q": "rue Polonceau 75018 Paris"}).json()
    assert body["status"] == "street_partial"
    assert body["qpv"] is None
    assert body["street"]["qpv_codes"] == ["QN07511M"]
    assert 0 < body["street"]["share_in_qpv"] < 1


def test_a_commune_without_qpv_answers_without_a_match(geocoding_client: TestClient) -> None:
    params = {"voie": "rue de la Paroisse", "commune": "Versailles", "citycode": "78646"}
    body = geocoding_client.get("/v1/address", params=params).json()
    assert body["status"] == "commune_without_qpv"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x" * 5000},
        {"q": "12 rue de\x07 Paris"},
        {"q": "12 rue de Paris", "code_postal": "00000"},
        {"q": "12 rue de Paris", "provider": "nominatim"},
        {"q": "12 rue de Paris", "geography": "2030"},
    ],
)
def test_bad_address_input_is_a_problem(
    geocoding_client: TestClient, params: dict[str, str]
) -> None:
    response = geocoding_client.get("/v1/address", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "12 rue de Paris", "code_postal": "75099"}, "code_postal '75099' does not exist"),
        ({"voie": "rue de Paris", "citycode": "93999"}, "citycode '93999' is not an INSEE"),
        ({"voie": "rue de Paris", "citycode": "75121"}, "citycode '75121' is not an INSEE"),
    ],
)
def test_well_formed_codes_that_do_not_exist_are_a_problem(
    geocoding_client: TestClient, params: dict[str, str], message: str
) -> None:
    response = geocoding_client.get("/v1/address", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"numero": "4", "voie": "rue Eric Tabarly", "code_postal": "93140"},
        {"numero": "4", "voie": "rue Eric Tabarly", "citycode": "93010"},
    ],
)
def test_existing_codes_pass_the_check(
    geocoding_client: TestClient, params: dict[str, str]
) -> None:
    body = geocoding_client.get("/v1/address", params=params).json()
    assert (body["status"], body["qpv"]["code"]) == ("in", "QN09314M")
    assert "Bondy" in body["qpv"]["communes"]


def test_a_service_without_geocoder_says_so(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/v1/address", params={"q": "4 rue Eric Tabarly 93140 Bondy"})
    assert response.status_code == 422
    assert "no geocoder" in response.json()["detail"]


def test_no_address_reaches_the_logs(
    geocoding_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Tabarly"
    with caplog.at_level("DEBUG"):
        geocoding_client.get("/v1/address", params={"q": f"4 rue Eric {secret} 93140 Bondy"})
        geocoding_client.get("/v1/address", params={"q": f"4 rue {secret}\x01"})
    assert all(secret not in record.getMessage() for record in caplog.records)


@pytest.fixture(scope="module")
def ban_client(geocoded_sqlite_url: str, addok_server: str) -> Iterator[TestClient]:
    """The app with both providers: local first, then ban against a real addok (Bondy)."""
    settings = Settings(
        database_url=geocoded_sqlite_url, geocoders=["local", "ban"], ban_url=addok_server
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.addok
@pytest.mark.parametrize("provider", ["local", "ban"])
def test_both_providers_give_the_same_answer(ban_client: TestClient, provider: str) -> None:
    params = {"q": "4 rue Eric Tabarly 93140 Bondy", "provider": provider}
    body = ban_client.get("/v1/address", params=params).json()
    assert body["geocoding"]["provider"] == provider
    assert (body["status"], body["qpv"]["code"]) == ("in", "QN09314M")


def test_an_unreachable_geocoder_is_a_502_problem(geocoded_sqlite_url: str) -> None:
    settings = Settings(
        database_url=geocoded_sqlite_url,
        geocoders=["ban"],
        ban_url="http://127.0.0.1:9",
        ban_timeout_s=0.5,
        ban_max_retries=0,
    )
    with TestClient(create_app(settings)) as c:
        response = c.get("/v1/address", params={"q": "4 rue Eric Tabarly 93140 Bondy"})
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert "ban geocoder failed" in response.json()["detail"]
    assert "Tabarly" not in response.text


def test_the_answer_says_when_the_commune_found_differs(geocoding_client: TestClient) -> None:
    params = {"q": "243 Rue Marcadet 75008 Paris"}
    body = geocoding_client.get("/v1/address", params=params).json()
    assert body["geocoding"]["citycode"] == "75118"
    assert body["geocoding"]["notes"] == [
        {"kind": "commune_differs", "detail": "postcode 75008 given, but found in 75018 Paris"}
    ]
    assert body["reason"].startswith("Postcode 75008 given, but found in 75018 Paris.")


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"q": "2 rue polonso 75018 paris"}, "in", "QN07511M"),
        ({"q": "2 rue polonso", "code_postal": "75018"}, "in", "QN07511M"),
    ],
)
def test_a_misspelt_street_inside_the_postcode_is_found(
    geocoding_client: TestClient, params: dict[str, str], status: str, code: str
) -> None:
    body = geocoding_client.get("/v1/address", params=params).json()
    assert (body["status"], body["qpv"]["code"]) == (status, code)
    assert body["geocoding"]["label"] == "2 Rue Polonceau 75018 Paris"


def test_an_interpolated_number_is_typed_so(geocoding_client: TestClient) -> None:
    params = {"q": "183 rue Edouard Vaillant 93140 Bondy"}
    body = geocoding_client.get("/v1/address", params=params).json()
    assert (body["status"], body["qpv"]["code"]) == ("in", "QN09312I")
    assert body["geocoding"]["type"] == "interpolated"
    assert [n["kind"] for n in body["geocoding"]["notes"]] == ["number_interpolated"]
    assert body["street"]["qpv_codes"] == ["QN09312I"]


def test_a_commune_not_covered_says_so(geocoding_client: TestClient) -> None:
    params = {"q": "12 rue de la République 13001 Marseille"}
    body = geocoding_client.get("/v1/address", params=params).json()
    assert body["status"] == "not_found"
    assert "do not cover postcode 13001" in body["reason"]


@pytest.mark.addok
def test_a_commune_not_covered_is_passed_on_to_the_next_provider(ban_client: TestClient) -> None:
    # The local tables do not cover Marseille: the query goes to ban (here an addok that
    # holds Bondy only, so it finds nothing either, and the answer says who was asked).
    params = {"q": "12 rue de la République 13001 Marseille"}
    body = ban_client.get("/v1/address", params=params).json()
    assert body["status"] == "not_found"
    assert body["reason"].startswith("The local geocoder's tables do not cover postcode 13001")
    assert "the ban geocoder it was passed on to" in body["reason"]


@pytest.mark.addok
def test_a_batch_passes_rows_of_communes_not_covered_on(ban_client: TestClient) -> None:
    content = (
        "adresse\n4 rue Eric Tabarly 93140 Bondy\n12 rue de la République 13001 Marseille\n"
    ).encode()
    response = ban_client.post(
        "/v1/batch/csv", files={"data": ("f.csv", content)}, data={"columns": "adresse"}
    )
    assert response.status_code == 200
    rows = response.text.splitlines()
    assert len(rows) == 3
    assert "QN09314M" in rows[1]
    assert "not_found" in rows[2]
    assert "do not cover postcode 13001" in rows[2]
    assert "the ban geocoder it was passed on to" in rows[2]
