"""The ``ban`` geocoder against a real addok serving the Bondy BAN extract."""

from __future__ import annotations

import asyncio
import csv
import gzip
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import pytest

from app.geocoding.ban import BanGeocoder
from app.geocoding.base import AddressQuery, GeocodeResult, MatchType
from tests.conftest import BAN_BONDY
from tests.geocoding.addok_server import repair_mojibake

pytestmark = pytest.mark.addok

T = TypeVar("T")


@dataclass(frozen=True)
class BanAddress:
    """One row of the BAN CSV: what we query and what we expect back."""

    id: str
    numero: str
    rep: str
    voie: str
    postcode: str
    citycode: str
    commune: str
    lon: float
    lat: float

    @property
    def housenumber(self) -> str:
        return f"{self.numero} {self.rep}".strip()

    @property
    def text(self) -> str:
        return f"{self.housenumber} {self.voie} {self.postcode} {self.commune}"


def _load_bondy() -> list[BanAddress]:
    with gzip.open(BAN_BONDY, "rt", encoding="utf-8", newline="") as f:
        return [
            BanAddress(
                id=row["id"],
                numero=row["numero"],
                rep=row["rep"],
                voie=repair_mojibake(row["nom_voie"]),
                postcode=row["code_postal"],
                citycode=row["code_insee"],
                commune=row["nom_commune"],
                lon=float(row["lon"]),
                lat=float(row["lat"]),
            )
            for row in csv.DictReader(f, delimiter=";")
        ]


BONDY = _load_bondy()
# A deterministic spread over the whole file (every street type, bis/ter included).
SAMPLE = BONDY[:: len(BONDY) // 200][:200]


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance, plenty for metres within one commune."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6_371_000 * math.hypot(x, y)


class CountingTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport that records the method and path of every request."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def run(
    url: str, body: Callable[[BanGeocoder], Awaitable[T]], **kwargs: object
) -> tuple[T, list[tuple[str, str]]]:
    """Run ``body`` with a fresh geocoder (and event loop); return its value and the calls."""
    transport = CountingTransport()

    async def main() -> T:
        async with BanGeocoder(url, transport=transport, **kwargs) as geocoder:  # type: ignore[arg-type]
            return await body(geocoder)

    return asyncio.run(main()), transport.calls


def assert_found(result: GeocodeResult, address: BanAddress) -> None:
    assert result.error is None, result.error_detail
    best = result.best
    assert best is not None, f"{address.id} not found"
    assert best.type is MatchType.HOUSENUMBER, (address.id, best)
    assert best.id == address.id, (address.id, best)
    assert distance_m(best.lon, best.lat, address.lon, address.lat) < 0.5
    assert best.citycode == address.citycode
    assert best.postcode == address.postcode
    assert best.city == address.commune
    assert best.street == address.voie
    assert best.housenumber == address.housenumber
    assert 0.5 < best.score <= 1.0
    assert address.voie in best.label


def test_known_addresses_are_found_at_the_house_number(addok_server: str) -> None:
    sample = SAMPLE[::10]  # 20 single queries; the bulk test covers all 200

    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        return [await g.geocode(AddressQuery(q=a.text)) for a in sample]

    results, calls = run(addok_server, body)
    for address, result in zip(sample, results, strict=True):
        assert_found(result, address)
    assert set(calls) == {("GET", "/search")}


def test_bis_ter_are_told_apart(addok_server: str) -> None:
    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        return [
            await g.geocode(AddressQuery(q=f"3{rep} rue du Vieux Chateau 93140 Bondy"))
            for rep in ("", " bis", "bis")
        ]

    (plain, bis, glued), _ = run(addok_server, body)
    assert plain.best is not None
    assert plain.best.id == "93010_tt7py3_00003"
    assert bis.best is not None
    assert bis.best.id == "93010_tt7py3_00003_bis"
    assert glued.best is not None
    assert glued.best.id == "93010_tt7py3_00003_bis"
    assert bis.best.housenumber == "3 bis"


def test_structured_query_with_postcode_and_citycode(addok_server: str) -> None:
    address = SAMPLE[7]
    structured = AddressQuery(
        numero=address.numero if not address.rep else f"{address.numero} {address.rep}",
        voie=address.voie,
        code_postal=address.postcode,
        commune=address.commune,
        citycode=address.citycode,
    )

    async def body(g: BanGeocoder) -> GeocodeResult:
        return await g.geocode(structured)

    result, calls = run(addok_server, body)
    assert_found(result, address)
    assert calls == [("GET", "/search")]


def test_citycode_filter_excludes_other_communes(addok_server: str) -> None:
    address = SAMPLE[3]

    async def body(g: BanGeocoder) -> tuple[GeocodeResult, GeocodeResult]:
        inside = await g.geocode(
            AddressQuery(q=f"{address.numero} {address.voie}", citycode="93010")
        )
        elsewhere = await g.geocode(
            AddressQuery(q=f"{address.numero} {address.voie}", citycode="75056")
        )
        return inside, elsewhere

    (inside, elsewhere), _ = run(addok_server, body)
    assert inside.best is not None
    assert inside.best.citycode == "93010"
    assert elsewhere.error is None
    assert elsewhere.candidates == []


def test_wrong_postcode_falls_back_to_the_text(addok_server: str) -> None:
    # A CEDEX or mistyped postcode matches no BAN address as a filter; the provider retries
    # without the filter (the postcode stays in the text).
    address = SAMPLE[11]
    query = AddressQuery(
        numero=address.housenumber, voie=address.voie, code_postal="93141", commune="Bondy"
    )

    async def body(g: BanGeocoder) -> GeocodeResult:
        return await g.geocode(query)

    result, calls = run(addok_server, body)
    assert result.best is not None
    assert result.best.id == address.id
    assert calls == [("GET", "/search"), ("GET", "/search")]

    no_fallback, calls = run(addok_server, body, postcode_fallback=False)
    assert no_fallback.candidates == []
    assert no_fallback.error is None
    assert len(calls) == 1


def test_commune_only_query_gives_the_municipality(addok_server: str) -> None:
    async def body(g: BanGeocoder) -> GeocodeResult:
        return await g.geocode(AddressQuery(commune="Bondy", code_postal="93140"))

    result, _ = run(addok_server, body)
    assert result.best is not None
    assert result.best.type is MatchType.MUNICIPALITY
    assert result.best.citycode == "93010"


def test_street_only_query_gives_the_street(addok_server: str) -> None:
    async def body(g: BanGeocoder) -> GeocodeResult:
        return await g.geocode(AddressQuery(voie="Rue du Vieux Chateau", commune="Bondy"))

    result, _ = run(addok_server, body)
    assert result.best is not None
    assert result.best.type is MatchType.STREET
    assert result.best.street == "Rue du Vieux Chateau"
    assert result.best.housenumber is None
    assert result.best.id == "93010_tt7py3"


def test_limit_and_ranking(addok_server: str) -> None:
    async def body(g: BanGeocoder) -> GeocodeResult:
        return await g.geocode(AddressQuery(q="rue Bondy"), limit=3)

    result, _ = run(addok_server, body)
    assert 1 <= len(result.candidates) <= 3
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)


def test_no_match_is_an_empty_result_not_an_error(addok_server: str) -> None:
    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        return [
            await g.geocode(AddressQuery(q="Qwxzk Plompf Vrrrt")),
            await g.geocode(AddressQuery(q="  ")),
            await g.geocode(AddressQuery(q="ab")),
            await g.geocode(AddressQuery()),
        ]

    results, calls = run(addok_server, body)
    for result in results:
        assert result.error is None
        assert result.candidates == []
    assert len(calls) == 1  # blank and too-short queries never leave the process


def test_bulk_uses_search_csv_and_keeps_input_order(addok_server: str) -> None:
    queries = [AddressQuery(q=a.text) for a in SAMPLE]

    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        return await g.geocode_many(queries)

    results, calls = run(addok_server, body, bulk_chunk_size=80)
    assert len(results) == len(SAMPLE)
    for address, result in zip(SAMPLE, results, strict=True):
        assert_found(result, address)
        assert len(result.candidates) == 1
    assert calls == [("POST", "/search/csv")] * 3


def test_bulk_mixes_structured_empty_and_unknown_rows(addok_server: str) -> None:
    a, b, c = SAMPLE[20], SAMPLE[40], SAMPLE[60]
    queries = [
        AddressQuery(q=a.text),
        AddressQuery(),  # nothing to search
        AddressQuery(numero=b.housenumber, voie=b.voie, code_postal=b.postcode, commune="Bondy"),
        AddressQuery(q="Qwxzk Plompf Vrrrt"),
        AddressQuery(q=c.text, citycode=c.citycode),
        AddressQuery(q='12, "rue" ; des Tests\nBondy'),  # CSV-hostile characters
    ] * 3

    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        return await g.geocode_many(queries)

    results, calls = run(addok_server, body, bulk_min_rows=2)
    assert len(results) == len(queries)
    for i in range(0, len(queries), 6):
        assert_found(results[i], a)
        assert results[i + 1] == GeocodeResult()
        assert_found(results[i + 2], b)
        assert results[i + 3].candidates == []
        assert results[i + 3].error is None
        assert_found(results[i + 4], c)
        assert results[i + 5].error is None
    assert calls[0] == ("POST", "/search/csv")


def test_bulk_and_single_paths_agree(addok_server: str) -> None:
    queries = [AddressQuery(q=a.text) for a in SAMPLE[:60]]

    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        return await g.geocode_many(queries)

    via_csv, csv_calls = run(addok_server, body)
    via_search, search_calls = run(addok_server, body, bulk=False)
    assert {c[1] for c in csv_calls} == {"/search/csv"}
    assert {c[1] for c in search_calls} == {"/search"}
    assert len(search_calls) == 60
    assert [r.best.id if r.best else None for r in via_csv] == [
        r.best.id if r.best else None for r in via_search
    ]
    for bulk, single in zip(via_csv, via_search, strict=True):
        assert bulk.best is not None
        assert single.best is not None
        assert bulk.best.label == single.best.label
        assert abs(bulk.best.score - single.best.score) < 0.01


def test_bulk_with_several_candidates_uses_search(addok_server: str) -> None:
    queries = [AddressQuery(q=a.text) for a in SAMPLE[:12]]

    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        return await g.geocode_many(queries, limit=3)

    results, calls = run(addok_server, body)
    assert set(calls) == {("GET", "/search")}
    for address, result in zip(SAMPLE[:12], results, strict=True):
        assert_found(result, address)
