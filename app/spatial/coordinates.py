"""Input coordinates a service for French territories can answer: in the CRS's area of use,
and not a pair given the wrong way round (the two commonest mistakes in files of points).

A confident ``out`` for an impossible point would be a wrong answer: these checks turn such
input into an ``InvalidInput`` (a 422, an ``invalid`` batch row) with the reason, and a hint
when swapping the two numbers would give a place in a territory that has QPV.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS

from app.errors import InvalidInput
from app.spatial.territories import (
    METRIC_EPSGS,
    TERRITORIES,
    territory_of_point,
    transformer,
)

Bounds = tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max


@cache
def area_of_use(epsg: int) -> Bounds:
    """Where the CRS may be used, in WGS84 degrees: its registered area of use, widened to
    the boxes of the territories measured in it (RGFG95 stops at 54°W, Guyane does not)."""
    registered = CRS.from_epsg(epsg).area_of_use
    boxes = [t.bbox for t in TERRITORIES if t.epsg == epsg]
    if registered is not None:
        boxes.append(registered.bounds)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _inside(
    bounds: Bounds, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.bool_]:
    x0, y0, x1, y1 = bounds
    with np.errstate(invalid="ignore"):
        return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def _in_territory(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    inside = np.zeros(lon.shape, dtype=bool)
    for territory in TERRITORIES:
        inside |= _inside(territory.bbox, lon, lat)
    return inside


def swapped_lonlat(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Pairs outside every QPV territory that would be inside one with lat and lon swapped."""
    swapped = ~_in_territory(lon, lat)
    rows = np.flatnonzero(swapped)  # usually few: the swap is tried on those only
    swapped[rows] = _in_territory(lat[rows], lon[rows])
    return swapped


def lonlat_problem(lon: float, lat: float) -> str | None:
    """Why a WGS84 pair cannot be answered as given (swapped lat/lon), or None."""
    if territory_of_point(lon, lat) is not None:
        return None
    territory = territory_of_point(lat, lon)
    if territory is None:
        return None
    return (
        f"lat/lon look swapped: lat={lat:.10g}, lon={lon:.10g} is outside every territory with "
        f"QPV, lat={lon:.10g}, lon={lat:.10g} would be in {territory.name}"
    )


def check_lonlat(lon: float, lat: float) -> tuple[float, float]:
    """The pair itself, or InvalidInput when it looks swapped."""
    problem = lonlat_problem(lon, lat)
    if problem is not None:
        raise InvalidInput(problem)
    return lon, lat


def xy_outside(x: NDArray[np.float64], y: NDArray[np.float64], epsg: int) -> NDArray[np.bool_]:
    """Which x/y pairs of ``epsg`` fall outside its area of use (or do not project at all)."""
    return outside_area_of_use(*_project(x, y, epsg), epsg)


def outside_area_of_use(
    lon: NDArray[np.float64], lat: NDArray[np.float64], epsg: int
) -> NDArray[np.bool_]:
    """Which positions (x/y of ``epsg`` already projected to lon/lat) lie outside its area of
    use; NaN (a pair that did not project) counts as outside."""
    return ~_inside(area_of_use(epsg), lon, lat)


def _project(
    x: NDArray[np.float64], y: NDArray[np.float64], epsg: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    with np.errstate(all="ignore"):
        lon, lat = transformer(epsg, 4326).transform(x, y, errcheck=False)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def xy_problem(x: float, y: float, epsg: int) -> str | None:
    """Why an x/y pair of ``epsg`` cannot be answered (outside the area of use), or None."""
    if epsg not in METRIC_EPSGS:
        return f"crs must be one of {sorted(METRIC_EPSGS)}, not {epsg}"
    xs, ys = np.array([x, y], dtype=np.float64), np.array([y, x], dtype=np.float64)
    outside = xy_outside(xs, ys, epsg)
    if not outside[0]:
        return None
    problem = f"x/y are outside the area of use of EPSG:{epsg} ({_area_name(epsg)})"
    if not outside[1]:
        lon, lat = _project(xs[1:], ys[1:], epsg)
        territory = territory_of_point(float(lon[0]), float(lat[0]))
        if territory is not None:
            problem += (
                f"; x and y look swapped: x={y:.12g}, y={x:.12g} would be in {territory.name}"
            )
    return problem


@cache
def _area_name(epsg: int) -> str:
    registered = CRS.from_epsg(epsg).area_of_use
    name = registered.name if registered is not None else f"EPSG:{epsg}"
    return name.split(" - ")[0]


def to_wgs84(x: float, y: float, epsg: int) -> tuple[float, float]:
    """Project x/y from a territory CRS to WGS84 lon/lat; InvalidInput outside its area of use."""
    if epsg in METRIC_EPSGS:
        # The common case on scalars (a point lookup): one projection, four comparisons.
        lon, lat = transformer(epsg, 4326).transform(x, y, errcheck=False)
        x0, y0, x1, y1 = area_of_use(epsg)
        if x0 <= lon <= x1 and y0 <= lat <= y1:
            return float(lon), float(lat)
    raise InvalidInput(xy_problem(x, y, epsg) or f"x/y do not give a position in EPSG:{epsg}")
