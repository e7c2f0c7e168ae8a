"""Real clients of API Adresse pointed at this service: change the base URL, keep the code.

geopy's BANFrance, the documented curl call, this project's own ``ban`` provider (the service
is its own BAN-compatible upstream) against a real uvicorn server; a real addok on the same
Bondy extract is the reference for the shapes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from geopy.geocoders import BANFrance

from app.geocoding.ban import BanGeocoder
from app.geocoding.base import AddressQuery, MatchType
from app.main import create_app
from app.settings import Settings
from tests.conftest import running_server

TABARLY = "4 Rue Eric Tabarly 93140 Bondy"
FILE = (
    "adresse,code_postal,ville\n4 rue Eric Tabarly,93140,Bondy\n12 Allee Anne Frank,93140,Bondy\n"
)


@pytest.fixture(scope="module")
def service(geocoded_sqlite_url: str) -> Iterator[str]:
    """The service with the offline geocoder, served by uvicorn on loopback."""
    settings = Settings(database_url=geocoded_sqlite_url, geocoders=["local"])
    with running_server(create_app(settings)) as url:
        yield url


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=30) as response:
        result: dict[str, object] = json.load(response)
        return result


def test_geopy_geocodes_a_bondy_address_with_the_qpv_answer(service: str) -> None:
    geocoder = BANFrance(domain=service.removeprefix("http://"), scheme="http", timeout=30)
    location = geocoder.geocode("4 rue Eric Tabarly 93140 Bondy")
    assert location is not None
    assert location.address == TABARLY
    assert (location.latitude, location.longitude) == pytest.approx((48.912288, 2.48232))
    props = location.raw["properties"]
    assert (props["qpv_status"], props["qpv_code"], props["qpv_geography"]) == (
        "in",
        "QN09314M",
        "2024",
    )


def test_geopy_reverses_a_bondy_point_with_the_qpv_answer(service: str) -> None:
    geocoder = BANFrance(domain=service.removeprefix("http://"), scheme="http", timeout=30)
    location = geocoder.reverse((48.912288, 2.48232))
    assert location is not None
    assert location.address == TABARLY
    assert location.raw["properties"]["qpv_code"] == "QN09314M"
    assert location.raw["properties"]["distance"] == 0
    several = geocoder.geocode("4 rue eric tab", exactly_one=False, limit=3)
    assert several and several[0].address == TABARLY


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_documented_curl_call_returns_the_file_tagged(service: str, tmp_path: Path) -> None:
    path = tmp_path / "adresses.csv"
    path.write_text(FILE, encoding="utf-8")
    command = ["curl", "-sS", "-X", "POST", "-F", f"data=@{path}", "-F", "columns=adresse",
               "-F", "postcode=code_postal", f"{service}/search/csv/"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    header, *rows = list(csv.reader(io.StringIO(done.stdout)))
    assert header[:6] == [
        "adresse",
        "code_postal",
        "ville",
        "latitude",
        "longitude",
        "result_label",
    ]
    assert header[-7:] == ["result_status", "qpv_status", "qpv_code", "qpv_name",
                           "qpv_distance_m", "qpv_geography", "qpv_reason"]  # fmt: skip
    assert len(rows) == 2
    first = dict(zip(header, rows[0], strict=True))
    assert (first["result_label"], first["qpv_code"]) == (TABARLY, "QN09314M")


def test_the_ban_provider_takes_the_service_as_its_upstream(service: str) -> None:
    async def run() -> tuple[object, list[object]]:
        async with BanGeocoder(service, bulk_min_rows=2) as ban:
            one = await ban.geocode(AddressQuery(q="4 rue Eric Tabarly 93140 Bondy"))
            many = await ban.geocode_many(
                [AddressQuery(q="4 rue Eric Tabarly", code_postal="93140")] * 3
                + [AddressQuery(q="37 bis rue Myrha 75018 Paris")]
            )
            return one, list(many)

    one, many = asyncio.run(run())
    best = one.best  # type: ignore[attr-defined]
    assert (best.label, best.type, best.id) == (
        TABARLY,
        MatchType.HOUSENUMBER,
        "93010_gs2x3y_00004",
    )
    assert [r.best.label for r in many] == [TABARLY] * 3 + ["37bis Rue Myrha 75018 Paris"]  # type: ignore[attr-defined]


@pytest.mark.addok
def test_features_have_addok_s_keys_and_the_csv_addok_s_header(
    service: str, addok_server: str, tmp_path: Path
) -> None:
    for query in ("q=4+rue+Eric+Tabarly+93140+Bondy", "q=rue+eric+tabarly&type=street"):
        ours = _get(f"{service}/search/?{query}")["features"][0]["properties"]  # type: ignore[index]
        theirs = _get(f"{addok_server}/search/?{query}")["features"][0]["properties"]  # type: ignore[index]
        assert set(theirs) <= set(ours)
        assert {k: ours[k] for k in ("label", "id", "type", "postcode", "citycode", "context")} == {
            k: theirs[k] for k in ("label", "id", "type", "postcode", "citycode", "context")
        }
    path = tmp_path / "adresses.csv"
    path.write_text(FILE, encoding="utf-8")
    headers = []
    for base in (service, addok_server):
        command = ["curl", "-sS", "-X", "POST", "-F", f"data=@{path}", "-F", "columns=adresse",
                   f"{base}/search/csv/"]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        headers.append(next(csv.reader(io.StringIO(out.stdout.removeprefix("\ufeff")))))
    ours, theirs = headers
    # addok's own columns first, in its order; then API Adresse's extra ones, then the QPV ones.
    assert ours[: len(theirs)] == theirs
    assert ours[len(theirs) :][:4] == [
        "result_oldcitycode", "result_oldcity", "result_district", "result_status",
    ]  # fmt: skip
