"""``GET /v1/point``: is this point in a QPV?"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.deps import PointLookupDep
from app.api.metrics import count_lookup
from app.api.params import PointQuery, openapi_parameters
from app.api.schemas import PointResult, json_response
from app.errors import InvalidInput
from app.spatial.coordinates import check_lonlat, to_wgs84

router = APIRouter(tags=["lookups"])


@router.get("/point", response_model=PointResult, openapi_extra=openapi_parameters(PointQuery))
async def point(lookup: PointLookupDep, request: Request) -> Response:
    """Whether a point (lat/lon in WGS84, or x/y in Lambert-93 or an overseas CRS) is in a QPV."""
    q = lookup.query
    if q.lat is not None and q.lon is not None and q.x is None and q.y is None:
        lon, lat = check_lonlat(q.lon, q.lat)
    elif q.x is not None and q.y is not None and q.lat is None and q.lon is None:
        lon, lat = to_wgs84(q.x, q.y, q.crs)
    else:
        raise InvalidInput("give either lat and lon, or x and y (with crs, default 2154)")
    answer = lookup.index.lookup(lon, lat, lookup.tolerance_m, geography=q.geography, as_of=q.as_of)
    count_lookup(request, "point", answer.status)
    # Already validated by construction: serialise directly rather than validate twice.
    return json_response(PointResult.of(answer, lon, lat))
