"""POST /v1/batch and /v1/batch/csv: answers in order, problems for bad options and limits."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.batch import readers
from app.geocoding.base import AddressQuery, Capabilities, GeocodeErrorKind, GeocodeResult
from app.main import create_app
from app.settings import Settings
from tests.batch.conftest import awkward_csv

COORDS = {"lat": "lat", "lon": "lon"}


def _rows(body: bytes, encoding: str = "utf-8", delimiter: str = ";") -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode(encoding), newline=""), delimiter=delimiter))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_csv_batch_answers_every_row_in_order(client: TestClient, encoding: str) -> None:
    content, expected = awkward_csv(encoding)
    response = client.post("/v1/batch/csv", files={"data": ("f.csv", content)}, data=COORDS)
    assert response.status_code == 200
    charset = encoding.replace("-sig", "")
    assert response.headers["content-type"] == f"text/csv; charset={charset}"
    rows = _rows(response.content, encoding)
    assert [(r[0], r[5]) for r in rows[1:]] == expected


def test_csv_batch_writes_the_format_asked(client: TestClient) -> None:
    content, expected = awkward_csv("utf-8")
    response = client.post(
        "/v1/batch/csv", files={"data": ("f.csv", content)}, data={**COORDS, "format": "geojson"}
    )
    assert response.headers["content-type"] == "application/geo+json"
    features = response.json()["features"]
    assert [f["properties"]["qpv_status"] for f in features] == [s for _, s in expected]


@pytest.mark.parametrize(
    ("form", "parameter"),
    [
        ({"lat": "nope", "lon": "lon"}, "lat"),
        ({"lat": "lat"}, "lon"),
        ({"x": "lat", "y": "lon", "lat": "lat", "lon": "lon"}, "x"),
        ({**COORDS, "geography": "2024", "as_of": "2020-01-01"}, "as_of"),
        ({**COORDS, "geography": "2019"}, "geography"),
        ({**COORDS, "as_of": "hier"}, "as_of"),
        ({**COORDS, "format": "pdf"}, "format"),
        ({**COORDS, "result_columns": "qpv_colour"}, "result_columns"),
        ({**COORDS, "lat": "nom"}, "lat"),  # duplicated column
        ({"columns": "nom"}, "columns"),  # this app has no geocoder
        ({}, "columns"),
    ],
)
def test_bad_options_are_422_problems_naming_the_parameter(
    sqlite_client: TestClient, form: dict[str, str], parameter: str
) -> None:
    content, _ = awkward_csv("utf-8")
    response = sqlite_client.post("/v1/batch/csv", files={"data": ("f.csv", content)}, data=form)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["parameter"] == parameter
    assert problem["parameter"] == parameter


def test_a_request_without_a_file_is_a_422_problem(sqlite_client: TestClient) -> None:
    response = sqlite_client.post("/v1/batch/csv", data=COORDS)
    assert response.status_code == 422
    assert response.json()["parameter"] == "data"


@pytest.fixture(scope="module")
def small_limits_client(loaded_sqlite_url: str) -> Iterator[TestClient]:
    """An app with tiny batch limits."""
    settings = Settings(
        database_url=loaded_sqlite_url,
        geocoders=[],
        batch_max_bytes=2000,
        batch_max_rows=5,
        batch_max_items=2,
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize(
    ("rows", "padding", "limit"),
    [(6, 0, 5), (2, 3000, 2000)],  # past the row limit; past the size limit
)
def test_past_each_limit_a_413_problem(
    small_limits_client: TestClient, rows: int, padding: int, limit: int
) -> None:
    content = b"lat,lon,pad\n" + b"".join(
        b"48.88699,2.35313,%s\n" % (b"x" * (padding // rows)) for _ in range(rows)
    )
    response = small_limits_client.post(
        "/v1/batch/csv", files={"data": ("f.csv", content)}, data=COORDS
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["limit"] == limit


def test_within_the_limits_the_file_is_answered(small_limits_client: TestClient) -> None:
    content = b"lat,lon\n" + b"48.88699,2.35313\n" * 5
    response = small_limits_client.post(
        "/v1/batch/csv", files={"data": ("f.csv", content)}, data=COORDS
    )
    assert response.status_code == 200
    assert [r[2] for r in _rows(response.content, delimiter=",")[1:]] == ["in"] * 5


def test_json_batch_past_the_item_limit_is_a_413(small_limits_client: TestClient) -> None:
    items = [{"lat": 48.88699, "lon": 2.35313}] * 3
    response = small_limits_client.post("/v1/batch", json=items)
    assert response.status_code == 413


def test_json_batch_answers_points_and_addresses_in_order(geocoding_client: TestClient) -> None:
    items: list[dict[str, Any]] = [
        {"lat": 48.88699, "lon": 2.35313},
        {"q": "4 rue Eric Tabarly 93140 Bondy"},
        {"x": 652564.94, "y": 6865413.85},
        {"voie": "rue Polonceau", "code_postal": "75018"},
        {},
        {"numero": "12", "voie": "boulevard de la Villette", "commune": "Paris"},
    ]
    response = geocoding_client.post("/v1/batch", json=items, params={"as_of": "2024-06-01"})
    assert response.status_code == 200
    body = response.json()
    got = [(r["index"], r["status"], (r["qpv"] or {}).get("code")) for r in body["results"]]
    assert got == [
        (0, "in", "QN07511M"),
        (1, "in", "QN09314M"),
        (2, "in", "QN07511M"),
        (3, "street_partial", "QN07511M"),
        (4, "invalid", None),
        (5, "out", None),
    ]
    assert body["results"][1]["geocoding"]["citycode"] == "93010"
    assert body["counts"] == {"in": 3, "street_partial": 1, "invalid": 1, "out": 1}


@pytest.mark.parametrize(
    "item",
    [
        {"housenumber": "4", "street": "rue Eric Tabarly", "postcode": "93140", "city": "Bondy"},
        {"numero": "4", "voie": "rue Eric Tabarly", "code_postal": "93140", "commune": "Bondy"},
        {"q": "Bat B Appt 12 4 rue Eric Tabarly 93140 Bondy"},
    ],
)
def test_json_batch_items_take_ban_names_and_french_aliases(
    geocoding_client: TestClient, item: dict[str, str]
) -> None:
    response = geocoding_client.post("/v1/batch", json=[item])
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert (result["status"], result["qpv"]["code"]) == ("in", "QN09314M")


def test_json_batch_refuses_an_item_giving_a_field_and_its_alias(
    geocoding_client: TestClient,
) -> None:
    item = {"voie": "rue Eric Tabarly", "street": "rue Eric Tabarly", "commune": "Bondy"}
    response = geocoding_client.post("/v1/batch", json=[item])
    assert response.status_code == 422


def test_json_batch_refuses_malformed_items(geocoding_client: TestClient) -> None:
    response = geocoding_client.post("/v1/batch", json=[{"lat": 123, "lon": 2}])
    assert response.status_code == 422
    assert response.json()["errors"][0]["parameter"].endswith("lat")


# --- a real server on loopback: streaming and logs ---


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run the app with uvicorn on a free loopback port (logs through the root logger)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=True)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
            assert thread.is_alive(), "the server did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class GateGeocoder:
    """Fault injection: holds the block holding "LAST" until the test opens the gate."""

    name = "gate"
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.gate = threading.Event()

    async def geocode(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        return (await self.geocode_many([query]))[0]

    async def geocode_many(
        self, queries: Sequence[AddressQuery], limit: int = 1
    ) -> list[GeocodeResult]:
        if any("LAST" in (q.q or "") for q in queries):
            opened = await asyncio.to_thread(self.gate.wait, 20)
            if not opened:
                return [GeocodeResult(error=GeocodeErrorKind.TIMEOUT) for _ in queries]
        return [GeocodeResult() for _ in queries]

    async def aclose(self) -> None:
        return None


def test_the_answer_starts_before_the_last_row_is_tagged(
    loaded_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "BLOCK_BYTES", 256)
    app = create_app(Settings(database_url=loaded_sqlite_url, geocoders=[]))
    geocoder = GateGeocoder()
    rows = [f"48.88699;2.35313;ligne {i}" for i in range(200)] + [";;LAST"]
    content = ("lat;lon;adresse\n" + "\n".join(rows) + "\n").encode()
    with serve(app) as url:
        app.state.geocoders = {"gate": geocoder}
        form = {**COORDS, "columns": "adresse"}
        with httpx.stream(
            "POST", f"{url}/v1/batch/csv", files={"data": ("f.csv", content)}, data=form, timeout=30
        ) as response:
            lines = response.iter_lines()
            next(lines)  # header
            first = next(lines)
            geocoder.gate.set()  # only now may the last block be tagged
            rest = list(lines)
    assert first.startswith("48.88699;2.35313;ligne 0;in;QN07511M")
    assert len(rest) == 200
    assert rest[-1].startswith(";;LAST;not_found")


DISTINCTIVE = [
    "Zéphyrin Quaglieri-Bonnefoy",
    "17 bis impasse des Tilleuls-Argentés",
    "4 rue Eric Tabarly 93140 Bondy Xavéria",
]


def test_no_address_nor_name_reaches_the_logs(
    geocoded_sqlite_url: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "app"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    settings = Settings(database_url=geocoded_sqlite_url, geocoders=["local"], log_level="DEBUG")
    app = create_app(settings)
    content = "nom;adresse\n" + "\n".join(f"{DISTINCTIVE[0]};{a}" for a in DISTINCTIVE) + "\n"
    with serve(app) as url:
        csv_answer = httpx.post(
            f"{url}/v1/batch/csv",
            files={"data": ("f.csv", content.encode())},
            data={"columns": "adresse"},
            timeout=30,
        )
        json_answer = httpx.post(f"{url}/v1/batch", json=[{"q": a} for a in DISTINCTIVE])
        bad = httpx.post(
            f"{url}/v1/batch/csv",
            files={"data": ("f.csv", content.encode())},
            data={"columns": DISTINCTIVE[1]},
        )
    assert csv_answer.status_code == 200 and DISTINCTIVE[1] in csv_answer.text
    assert json_answer.status_code == 200
    assert bad.status_code == 422
    captured = capfd.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "POST /v1/batch/csv" in logged  # the logs were captured
    for secret in DISTINCTIVE:
        for part in secret.split():
            if len(part) > 8:
                assert part not in logged


def test_a_failure_after_the_answer_started_keeps_only_its_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from app.api.uploads import BatchStreamError, private_stream

    async def failing() -> Any:
        yield b"header\n"
        raise ValueError(DISTINCTIVE[1])

    async def consume() -> list[bytes]:
        return [piece async for piece in private_stream(failing())]

    with pytest.raises(BatchStreamError) as caught:
        asyncio.run(consume())
    assert str(caught.value) == "ValueError"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert DISTINCTIVE[1] not in caplog.text
