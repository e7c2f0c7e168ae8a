"""``GET /v1/map/qpv``: simplified polygons per geography and zoom band, gzip and ETag."""

from __future__ import annotations

import gzip

import orjson
import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("params", "geography", "band", "count"),
    [
        ({"band": "0"}, "2024", 0, 1584),
        ({"zoom": "13", "geography": "2015"}, "2015", 2, 1514),
        ({"zoom": "18", "geography": "2024"}, "2024", 3, 1584),
        ({}, "2024", 0, 1584),
    ],
)
def test_a_layer_is_a_feature_collection_of_the_geography_and_band(
    client: TestClient, params: dict[str, str], geography: str, band: int, count: int
) -> None:
    response = client.get("/v1/map/qpv", params=params, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    assert "content-encoding" not in response.headers
    data = response.json()
    assert (data["geography"], data["band"], len(data["features"])) == (geography, band, count)
    assert set(data["features"][0]["properties"]) == {"code", "name"}


def test_a_layer_is_gzipped_cached_and_revalidated(sqlite_client: TestClient) -> None:
    first = sqlite_client.get("/v1/map/qpv", params={"band": "1"})  # httpx asks for gzip
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.headers["vary"] == "Accept-Encoding"
    raw = sqlite_client.get(
        "/v1/map/qpv", params={"band": "1"}, headers={"Accept-Encoding": "identity"}
    )
    assert raw.headers["etag"] == first.headers["etag"]
    assert orjson.loads(raw.content) == first.json()
    assert len(gzip.compress(raw.content)) < len(raw.content) / 3
    again = sqlite_client.get(
        "/v1/map/qpv", params={"band": "1"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    other = sqlite_client.get("/v1/map/qpv", params={"band": "2"})
    assert other.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [({"band": "4"}, "band"), ({"zoom": "-1"}, "zoom"), ({"geography": "2019"}, "geography")],
)
def test_bad_parameters_are_422_problems_naming_them(
    sqlite_client: TestClient, params: dict[str, str], parameter: str
) -> None:
    response = sqlite_client.get("/v1/map/qpv", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["parameter"] == parameter
