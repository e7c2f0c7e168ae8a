"""Tagging coordinate arrays agrees with single-point answers, point by point."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import shapely

from app.errors import InvalidInput
from app.spatial.geography import Geography
from app.spatial.index import QpvIndex
from app.spatial.tagging import INVALID, tag_points

TOLERANCE = 15.0


def _points(qpv_index: QpvIndex, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    geo = qpv_index.get(Geography.QPV2024)
    centres = shapely.get_coordinates(shapely.centroid(geo.geoms))
    picks = centres[rng.integers(0, len(centres), n)]
    lon = picks[:, 0] + rng.normal(0, 0.003, n)
    lat = picks[:, 1] + rng.normal(0, 0.002, n)
    return lon, lat


@pytest.mark.parametrize("as_of", [None, date(2019, 1, 1), date(2024, 6, 1)])
def test_tagging_arrays_agrees_with_single_lookups(qpv_index: QpvIndex, as_of: date | None) -> None:
    lon, lat = _points(qpv_index)
    tagged = tag_points(qpv_index, lon, lat, as_of=as_of, tolerance_m=TOLERANCE, distances=True)
    assert tagged.distance_m is not None
    assert {"in", "out", "near_boundary"} <= set(tagged.status)
    for i in range(len(lon)):
        answer = qpv_index.lookup(lon[i], lat[i], TOLERANCE, as_of=as_of)
        assert tagged.code[i] == (answer.qpv.code if answer.qpv else None)
        assert tagged.status[i] == answer.status.value
        assert tagged.geography[i] == answer.geography.value
        assert tagged.distance_m[i] == pytest.approx(answer.distance_m)


def _uniform(n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(9)
    return rng.uniform(-5.5, 9.8, n), rng.uniform(41.3, 51.5, n)


@pytest.mark.parametrize("spread", ["near-qpv", "across-france"])
def test_near_boundary_without_distances_matches_the_distance_path(
    qpv_index: QpvIndex, spread: str
) -> None:
    lon, lat = _points(qpv_index) if spread == "near-qpv" else _uniform()
    fast = tag_points(qpv_index, lon, lat, tolerance_m=TOLERANCE)
    full = tag_points(qpv_index, lon, lat, tolerance_m=TOLERANCE, distances=True)
    assert fast.distance_m is None
    np.testing.assert_array_equal(fast.status, full.status)
    np.testing.assert_array_equal(fast.code, full.code)


def test_overseas_points_follow_their_own_calendar(qpv_index: QpvIndex) -> None:
    lon, lat = np.array([2.35313, 55.45]), np.array([48.88699, -20.88])
    tagged = tag_points(qpv_index, lon, lat, as_of=date(2024, 6, 1))
    assert list(tagged.geography) == ["2024", "2015"]
    assert list(tagged.territory) == ["hexagone", "reunion"]


def test_without_a_tolerance_there_are_no_distances(qpv_index: QpvIndex) -> None:
    tagged = tag_points(qpv_index, [2.35313], [48.88699], geography=Geography.QPV2015)
    assert tagged.distance_m is None
    assert (tagged.code[0], tagged.status[0]) == ("QP075012", "in")


def test_invalid_coordinates_get_their_own_status_and_keep_their_rows(
    qpv_index: QpvIndex,
) -> None:
    lon = np.array([2.35313, np.nan, 200.0, 2.0, -30.0])
    lat = np.array([48.88699, 48.0, 48.0, np.inf, 40.0])
    tagged = tag_points(qpv_index, lon, lat, tolerance_m=TOLERANCE, distances=True)
    assert list(tagged.status) == ["in", INVALID, INVALID, INVALID, "out"]
    assert tagged.code[0] == "QN07511M"
    assert tagged.distance_m is not None and np.isnan(tagged.distance_m[4])


def test_arrays_of_different_lengths_are_refused(qpv_index: QpvIndex) -> None:
    with pytest.raises(InvalidInput, match="same length"):
        tag_points(qpv_index, [1.0, 2.0], [48.0])
