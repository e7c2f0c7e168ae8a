"""The ``ban`` provider in a batch: rows geocoded through a real addok's /search/csv."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from app.addresses import AddressResolver
from app.batch import Tagger, TagOptions
from app.geocoding.ban import BanGeocoder
from app.settings import Settings
from app.spatial.index import QpvIndex
from tests.geocoding.test_ban import CountingTransport

pytestmark = pytest.mark.addok


def test_a_file_of_addresses_goes_through_search_csv_in_chunks(
    addok_server: str, qpv_index: QpvIndex, tmp_path: Path
) -> None:
    transport = CountingTransport()
    geocoder = BanGeocoder(addok_server, transport=transport, bulk_chunk_size=4, bulk_min_rows=2)
    settings = Settings(geocoders=["ban"])
    tagger = Tagger(qpv_index, AddressResolver(qpv_index, {"ban": geocoder}, settings), settings)
    addresses = ["4 rue Eric Tabarly", "1 rue Jules Guesde", "", "rue imaginaire 99"] * 3
    lines = ["id;adresse;cp"] + [f"{i};{a};93140" for i, a in enumerate(addresses)]
    src = tmp_path / "in.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = tagger.tag_file(
        src, tmp_path / "out.csv", TagOptions(columns=("adresse",), postcode="cp")
    )
    rows = list(csv.reader(io.StringIO((tmp_path / "out.csv").read_text()), delimiter=";"))
    header, data = rows[0], rows[1:]
    assert [r[0] for r in data] == [str(i) for i in range(len(addresses))]
    status = header.index("qpv_status")
    statuses = [r[status] for r in data]
    assert statuses[0::4] == ["in"] * 3
    assert set(statuses[1::4]) <= {"out", "near_boundary"}  # 1 rue Jules Guesde, 15 m away
    assert statuses[2::4] == ["not_found"] * 3  # the postcode alone: only the commune
    assert statuses[3::4] == ["not_found"] * 3
    assert data[0][header.index("qpv_code")] == "QN09314M"
    assert data[0][header.index("result_citycode")] == "93010"
    assert summary.rows == len(addresses)
    assert ("POST", "/search/csv") in transport.calls
