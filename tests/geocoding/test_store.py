"""The offline geocoder's tables written as files and mapped back: same answers, built once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.geocoding.base import AddressQuery
from app.geocoding.local import LocalGeocoder, build_tables
from app.geocoding.local.store import ensure_store, is_store, open_store, write_store
from tests.geocoding.test_tables import ADDRESSES, STREETS

QUERIES = [
    "3 rue du Vieux Château 93140 Bondy",
    "3 bis r du vieux chateau bondy",
    "1 allee racine 93140",
    "12 bd de la Villette Paris",
    "99 rue du Vieux Chateau Bondy",
    "Bondy",
    "12 boulevard villete 75019",
]


def _write(directory: Path) -> None:
    write_store(directory, [STREETS[:2], STREETS[2:]], [ADDRESSES[:2], ADDRESSES[2:]])


def test_a_mapped_store_answers_as_tables_built_in_memory(tmp_path: Path) -> None:
    _write(tmp_path / "store")
    mapped = LocalGeocoder(*open_store(tmp_path / "store"))
    in_memory = LocalGeocoder(*build_tables(STREETS, [ADDRESSES]))
    for query in QUERIES:
        assert mapped.search(AddressQuery(q=query)) == in_memory.search(AddressQuery(q=query))
    assert (mapped.street_count, mapped.address_count) == (3, 5)


def test_a_mapped_store_keeps_every_column_and_maps_it_read_only(tmp_path: Path) -> None:
    _write(tmp_path / "store")
    streets, addresses = open_store(tmp_path / "store")
    assert list(streets.citycode) == ["93010", "93010", "75119"]
    assert list(streets.delivery_city) == [None, "BONDY", None]
    assert list(streets.ban_id) == ["93010_tt7py3", "93010_racine", "75119_9838"]
    assert (streets.start.tolist(), streets.end.tolist()) == ([0, 3, 4], [3, 4, 5])
    assert addresses.numero.tolist() == [3, 3, 6, 1, 12]
    assert addresses.rep_table == ("", "bis")
    assert dict(addresses.id_exceptions) == {3: "custom-id"}
    assert not addresses.lon.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        addresses.lon[0] = 0.0


def test_an_empty_store_makes_a_geocoder_that_finds_nothing(tmp_path: Path) -> None:
    write_store(tmp_path / "empty", [], [])
    geocoder = LocalGeocoder(*open_store(tmp_path / "empty"))
    assert geocoder.address_count == 0
    assert geocoder.search(AddressQuery(q="3 rue du Vieux Chateau 93140 Bondy")) == []


def test_a_store_is_built_once_per_key_and_older_keys_are_removed(tmp_path: Path) -> None:
    builds: list[str] = []

    def build(directory: Path) -> None:
        builds.append(directory.name)
        _write(directory)

    first, _ = ensure_store(tmp_path, "aaa", build)
    again, _ = ensure_store(tmp_path, "aaa", build)
    assert builds == ["1-aaa"]
    assert list(again.name) == list(first.name)
    ensure_store(tmp_path, "bbb", build)
    assert builds == ["1-aaa", "1-bbb"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["1-bbb"]


def test_a_failed_build_leaves_no_store_and_no_temporary_folder(tmp_path: Path) -> None:
    def rows() -> object:
        yield ADDRESSES[:2]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_store(tmp_path / "store", [STREETS], rows())  # type: ignore[arg-type]
    assert not is_store(tmp_path / "store")
    assert list(tmp_path.iterdir()) == []


def test_a_store_of_another_format_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "store")
    meta = tmp_path / "store" / "meta.json"
    meta.write_text(meta.read_text().replace('"format": 1', '"format": 0'))
    with pytest.raises(ValueError, match="format 0"):
        open_store(tmp_path / "store")


def test_rows_of_an_unknown_street_are_dropped() -> None:
    orphan = ADDRESSES[0]._replace(street_id=15)
    streets, addresses = build_tables(STREETS, [[*ADDRESSES[:3], orphan, *ADDRESSES[3:]]])
    assert len(addresses) == 5
    assert np.array_equal(streets.end - streets.start, [3, 1, 1])
