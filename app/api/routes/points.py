"""``GET /v1/point``: is this point in a QPV?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import IndexDep, SettingsDep, WhenDep
from app.api.schemas import PointResult
from app.errors import InvalidInput
from app.spatial.territories import METRIC_EPSGS, to_wgs84

router = APIRouter(tags=["lookups"])


@router.get("/point", response_model=PointResult)
async def point(
    index: IndexDep,
    settings: SettingsDep,
    when: WhenDep,
    lat: Annotated[float | None, Query(ge=-90, le=90, allow_inf_nan=False)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, allow_inf_nan=False)] = None,
    x: Annotated[float | None, Query(allow_inf_nan=False, description="easting in `crs`")] = None,
    y: Annotated[float | None, Query(allow_inf_nan=False, description="northing in `crs`")] = None,
    crs: Annotated[
        int, Query(description=f"EPSG code of x/y, one of {sorted(METRIC_EPSGS)}")
    ] = 2154,
) -> PointResult:
    """Whether a point (lat/lon in WGS84, or x/y in Lambert-93 or an overseas CRS) is in a QPV."""
    if lat is not None and lon is not None and x is None and y is None:
        pass
    elif x is not None and y is not None and lat is None and lon is None:
        lon, lat = to_wgs84(x, y, crs)
    else:
        raise InvalidInput("give either lat and lon, or x and y (with crs, default 2154)")
    answer = index.lookup(
        lon, lat, settings.boundary_tolerance_m, geography=when.geography, as_of=when.as_of
    )
    return PointResult.of(answer, lon, lat)
