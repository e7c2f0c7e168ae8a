"""Taggers on the real index (both backends) and the offline geocoder; awkward input files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from app.addresses import AddressResolver
from app.batch import Tagger
from app.geocoding.base import AddressQuery, Capabilities, GeocodeErrorKind, GeocodeResult
from app.geocoding.local import LocalGeocoder
from app.settings import Settings
from app.spatial.index import QpvIndex
from tests.conftest import BACKENDS

# Points with known answers (2024 geography unless said otherwise).
GOUTTE_DOR = (48.88699, 2.35313)  # in QN07511M; QP075012 in 2015
OUTSIDE = (48.8907, 2.38)  # out, far from any boundary
L93_GOUTTE_DOR = (652564.94, 6865413.85)


@pytest.fixture(scope="session")
def tagger(qpv_index: QpvIndex) -> Tagger:
    """A coordinates-only tagger (no geocoder) on the SQLite-loaded index."""
    return Tagger(qpv_index, None, Settings(geocoders=[]))


@pytest.fixture(scope="session")
def address_tagger(qpv_index: QpvIndex, local_geocoder: LocalGeocoder) -> Tagger:
    """A tagger with the offline geocoder (Bondy and Paris BAN)."""
    settings = Settings(geocoders=["local"])
    resolver = AddressResolver(qpv_index, {"local": local_geocoder}, settings)
    return Tagger(qpv_index, resolver, settings)


@pytest.fixture(scope="module", params=BACKENDS)
def backend_tagger(request: pytest.FixtureRequest) -> Tagger:
    """A coordinates-only tagger on the index loaded from SQLite, then from PostGIS."""
    from app.db.loader import load_index
    from app.db.session import make_engine

    url = request.getfixturevalue(f"loaded_{request.param}_url")
    return Tagger(load_index(make_engine(url)), None, Settings(geocoders=[]))


class FailingGeocoder:
    """Fault injection: a remote provider whose every request fails."""

    name = "ban"
    capabilities = Capabilities()

    async def geocode(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        return GeocodeResult(error=GeocodeErrorKind.TIMEOUT, error_detail="timed out")

    async def geocode_many(
        self, queries: Sequence[AddressQuery], limit: int = 1
    ) -> list[GeocodeResult]:
        return [await self.geocode(q) for q in queries]

    async def aclose(self) -> None:
        return None


def awkward_csv(encoding: str, delimiter: str = ";") -> tuple[bytes, list[tuple[str, str]]]:
    """Every awkward kind in one CSV, and (id, expected status) per data row, in order.

    BOM (utf-8-sig), accents in the encoding, decimal commas (quoted when the delimiter is a
    comma), an empty line, a quoted newline, a row with too many fields, coordinates out of
    range, a duplicated column name, CRLF line endings.
    """
    d = delimiter

    def num(value: str) -> str:
        return f'"{value}"' if d == "," and "," in value else value

    lines = [
        d.join(["id", "nom", "nom", "lat", "lon"]),
        d.join(["1", "Zoé Noël", "Zoé", num("48,88699"), num("2,35313")]),
        "",
        d.join(["2", '"Hélène\r\nde l\'Aÿ"', "x", "48.8907", "2.38"]),
        d.join(["3", "Ève", "x", num("48,8867"), num("2,3530"), "de trop"]),
        d.join(["4", "Çà", "x", num("123,5"), num("2,35")]),
        d.join(["5", "Œdipe", "x", "", ""]),
        d.join(["6", "Anaïs", "x", "pas un nombre", "2.35"]),
        d.join(["7", "Zoé", "x", "48.88699", "2.35313"]),
    ]
    expected = [
        ("1", "in"),
        ("", "invalid"),
        ("2", "out"),
        ("3", "invalid"),
        ("4", "invalid"),
        ("5", "invalid"),
        ("6", "invalid"),
        ("7", "in"),
    ]
    return "\r\n".join(lines).encode(encoding) + b"\r\n", expected


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    """A file under tmp_path with these bytes."""
    path = tmp_path / name
    path.write_bytes(content)
    return path
