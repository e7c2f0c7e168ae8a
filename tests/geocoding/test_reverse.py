"""Reverse geocoding over the offline tables: the nearest address points."""

from __future__ import annotations

import numpy as np
import pytest

from app.geocoding.base import MatchType
from app.geocoding.local import LocalGeocoder
from app.geocoding.local.reverse import local_geocoder as find_local
from app.geocoding.local.reverse import reverse_index


def test_the_nearest_address_is_addok_s(local_geocoder: LocalGeocoder) -> None:
    # The real addok of tests/geocoding/addok_server.py answers the same point, 15 m.
    (near,) = reverse_index(local_geocoder).nearest(2.48, 48.9)
    assert near.candidate.label == "12 Rue Louis Auguste Blanqui 93140 Bondy"
    assert near.candidate.id == "93010_5170_00012"
    assert near.distance_m == pytest.approx(15.0, abs=0.5)


def test_the_nearest_point_is_the_brute_force_one(local_geocoder: LocalGeocoder) -> None:
    index = reverse_index(local_geocoder)
    _, addresses, _ = local_geocoder.tables
    lon, lat = np.asarray(addresses.lon), np.asarray(addresses.lat)
    rng = np.random.default_rng(42)
    # Points over Bondy and Paris, some on address points, some between them.
    for x, y in zip(rng.uniform(2.25, 2.52, 300), rng.uniform(48.82, 48.92, 300), strict=True):
        kx = np.cos(np.radians(y)) * 110_540.0
        brute = np.sqrt(((lon - x) * kx) ** 2 + ((lat - y) * 110_540.0) ** 2).min()
        found = index.nearest(float(x), float(y))
        # Within a kilometre a point is always found; farther, it may be said to be nowhere.
        assert found or brute > 1000, (x, y)
        if found:
            assert found[0].distance_m == pytest.approx(brute, abs=0.11)


def test_several_answers_come_nearest_first_and_distinct(local_geocoder: LocalGeocoder) -> None:
    index = reverse_index(local_geocoder)
    points = index.nearest(2.48, 48.9, 5)
    assert [p.distance_m for p in points] == sorted(p.distance_m for p in points)
    assert len({p.candidate.id for p in points}) == 5
    streets = index.nearest(2.48, 48.9, 3, MatchType.STREET)
    assert [s.candidate.type for s in streets] == [MatchType.STREET] * 3
    assert len({s.candidate.street for s in streets}) == 3
    (commune,) = index.nearest(2.48, 48.9, 1, MatchType.MUNICIPALITY)
    assert commune.candidate.citycode == "93010"


def test_far_from_every_address_nothing_is_answered(local_geocoder: LocalGeocoder) -> None:
    assert reverse_index(local_geocoder).nearest(5.37, 43.29) == []  # Marseille: not loaded


def test_the_offline_geocoder_is_found_behind_its_wrappers(local_geocoder: LocalGeocoder) -> None:
    class Wrapper:
        def __init__(self, inner: object) -> None:
            self.inner = inner

    assert find_local([object(), Wrapper(Wrapper(local_geocoder))]) is local_geocoder
    assert find_local([object()]) is None
