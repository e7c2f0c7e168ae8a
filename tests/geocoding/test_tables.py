"""The offline geocoder built from literal rows: no file, no database."""

from __future__ import annotations

import numpy as np
import pytest

from app.geocoding.base import AddressQuery, MatchType
from app.geocoding.local import (
    AddressRecord,
    AddressTable,
    LocalGeocoder,
    StreetRecord,
    StreetTable,
    build_tables,
)

# Two streets of Bondy and one of Paris 19e, ids as a database would give them (not 0..n).
STREETS = [
    StreetRecord(
        10, "93010", "93140", "Bondy", None, None, "Rue du Vieux Chateau",
        "rue du vieux chateau", "93010_tt7py3", 2.4821, 48.8956,
    ),
    StreetRecord(
        11, "93010", "93140", "Bondy", None, "BONDY", "Allée Racine",
        "allee racine", "93010_racine", 2.4900, 48.9000,
    ),
    StreetRecord(
        20, "75119", "75019", "Paris 19e Arrondissement", None, None,
        "Boulevard de la Villette", "boulevard de la villette", "75119_9838", 2.3761, 48.8732,
    ),
]  # fmt: skip
ADDRESSES = [
    AddressRecord(10, 3, "", 2.482084, 48.895657, "93010_tt7py3_00003"),
    AddressRecord(10, 3, "bis", 2.48222, 48.895526, "93010_tt7py3_00003_bis"),
    AddressRecord(10, 6, "", 2.481746, 48.895554, "93010_tt7py3_00006"),
    AddressRecord(11, 1, "", 2.49, 48.9, "custom-id"),
    AddressRecord(20, 12, "", 2.376095, 48.873228, "75119_9838_00012"),
]


@pytest.fixture(scope="module")
def geocoder() -> LocalGeocoder:
    # Address rows come in chunks, as a database streams them.
    streets, addresses = build_tables(STREETS, [ADDRESSES[:2], ADDRESSES[2:], []])
    return LocalGeocoder(streets, addresses)


def test_tables_are_built_from_rows_with_one_slice_of_addresses_per_street() -> None:
    streets, addresses = build_tables(STREETS, [ADDRESSES])
    assert len(streets) == 3
    assert len(addresses) == 5
    assert streets.start.tolist() == [0, 3, 4]
    assert streets.end.tolist() == [3, 4, 5]
    assert addresses.rep_table == ("", "bis")
    # Only the id that does not follow "<street id>_<number>[_<rep>]" is stored.
    assert dict(addresses.id_exceptions) == {3: "custom-id"}


@pytest.mark.parametrize(
    ("query", "expected_id", "expected_type"),
    [
        ("3 rue du Vieux Château 93140 Bondy", "93010_tt7py3_00003", MatchType.HOUSENUMBER),
        ("3 bis r du vieux chateau bondy", "93010_tt7py3_00003_bis", MatchType.HOUSENUMBER),
        ("1 allee racine 93140", "custom-id", MatchType.HOUSENUMBER),
        ("12 bd de la Villette Paris", "75119_9838_00012", MatchType.HOUSENUMBER),
        ("99 rue du Vieux Chateau Bondy", "93010_tt7py3", MatchType.STREET),
        ("Bondy", "93010", MatchType.MUNICIPALITY),
    ],
)
def test_a_geocoder_built_without_a_database_answers(
    geocoder: LocalGeocoder, query: str, expected_id: str, expected_type: MatchType
) -> None:
    best = geocoder.search(AddressQuery(q=query), limit=1)[0]
    assert (best.id, best.type) == (expected_id, expected_type)


def test_a_geocoder_built_without_a_database_reports_its_size_and_communes(
    geocoder: LocalGeocoder,
) -> None:
    assert (geocoder.street_count, geocoder.address_count) == (3, 5)
    assert geocoder.has_commune("93010")
    assert geocoder.has_commune("75056")  # Paris, through its 19th arrondissement
    assert not geocoder.has_commune("13055")
    best = geocoder.search(AddressQuery(q="3 rue du Vieux Chateau Bondy"), limit=1)[0]
    lon, lat = geocoder.street_points(best)
    assert sorted(zip(lon.tolist(), lat.tolist(), strict=True)) == [
        (2.481746, 48.895554),
        (2.482084, 48.895657),
        (2.48222, 48.895526),
    ]


def test_empty_tables_make_a_geocoder_that_finds_nothing() -> None:
    geocoder = LocalGeocoder(*build_tables([], []))
    assert geocoder.search(AddressQuery(q="3 rue du Vieux Chateau 93140 Bondy")) == []


def test_columns_of_different_lengths_are_refused() -> None:
    empty = np.empty(0)
    with pytest.raises(ValueError, match="different lengths"):
        AddressTable(numero=np.zeros(2, np.int32), rep=empty, lon=empty, lat=empty)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="different lengths"):
        StreetTable(
            citycode=["93010"], postcode=[], city=[], old_city=[], delivery_city=[], name=[],
            name_norm=[], ban_id=[], lon=empty, lat=empty, start=empty, end=empty,  # type: ignore[arg-type]
        )  # fmt: skip
