"""Plausibility of input coordinates: the CRS's area of use, and pairs given the wrong way."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.errors import InvalidInput
from app.spatial.coordinates import (
    area_of_use,
    check_lonlat,
    lonlat_problem,
    swapped_lonlat,
    to_wgs84,
    xy_outside,
)
from app.spatial.territories import METRIC_EPSGS, TERRITORIES, Territory, transformer


@pytest.mark.parametrize("territory", TERRITORIES, ids=lambda t: t.key)
def test_every_territory_lies_in_the_area_of_use_of_its_crs(territory: Territory) -> None:
    x0, y0, x1, y1 = area_of_use(territory.epsg)
    tx0, ty0, tx1, ty1 = territory.bbox
    assert x0 <= tx0 and y0 <= ty0 and tx1 <= x1 and ty1 <= y1


def test_saint_laurent_du_maroni_west_of_54_w_is_accepted_in_rgfg95() -> None:
    # RGFG95 / UTM 22N is registered "east of 54°W"; the town (and its QPV) are just west.
    x, y = transformer(4326, 2972).transform(-54.03, 5.50)
    lon, lat = to_wgs84(x, y, 2972)
    assert math.isclose(lon, -54.03, abs_tol=1e-6) and math.isclose(lat, 5.50, abs_tol=1e-6)


@pytest.mark.parametrize(
    ("x", "y", "epsg"),
    [
        (1e308, 1e308, 2154),
        (-1e308, 1e308, 2154),
        (math.nan, 6865413.85, 2154),
        (6865413.85, 652564.94, 2154),
        (652564.94, 6865413.85, 2975),
        (652564.94, 6865413.85, 4326),
    ],
)
def test_x_y_outside_the_area_of_use_are_refused(x: float, y: float, epsg: int) -> None:
    with pytest.raises(InvalidInput):
        to_wgs84(x, y, epsg)


def test_the_vectorised_check_agrees_with_the_scalar_one() -> None:
    x = np.array([652564.94, 6865413.85, 1e308, np.nan])
    y = np.array([6865413.85, 652564.94, 1e308, 1.0])
    assert xy_outside(x, y, 2154).tolist() == [False, True, True, True]
    assert 2154 in METRIC_EPSGS


def test_swapped_lat_lon_are_found_and_named() -> None:
    lon = np.array([2.35313, 48.88699, 0.0, 55.4481, np.nan])
    lat = np.array([48.88699, 2.35313, 0.0, -20.8789, 1.0])
    assert swapped_lonlat(lon, lat).tolist() == [False, True, False, False, False]
    problem = lonlat_problem(48.88699, 2.35313)
    assert problem is not None and problem.endswith("would be in Hexagone et Corse")
    assert lonlat_problem(0.0, 0.0) is None
    with pytest.raises(InvalidInput, match="lat/lon look swapped"):
        check_lonlat(48.88699, 2.35313)
