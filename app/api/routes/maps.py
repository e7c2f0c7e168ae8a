"""``GET /v1/map/qpv``: simplified QPV polygons for web maps, per geography and zoom band."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import IndexDep, SettingsDep
from app.spatial.geography import Geography
from app.spatial.index import HEXAGONE
from app.spatial.shapes import BANDS, LayerCache, band_of_zoom

router = APIRouter(tags=["map"])
ZOOMS = ", ".join(f"{n}: zooms {b.min_zoom}-{b.max_zoom}" for n, b in enumerate(BANDS))


def _layers(request: Request) -> LayerCache:
    cache: LayerCache = request.app.state.map_layers  # made by create_app, filled on demand
    return cache


@router.get(
    "/map/qpv",
    responses={200: {"content": {"application/geo+json": {}}}, 304: {"description": "unchanged"}},
)
async def map_layer(
    request: Request,
    index: IndexDep,
    settings: SettingsDep,
    geography: Annotated[
        Geography | None, Query(description="default: the geography in force today")
    ] = None,
    band: Annotated[int | None, Query(ge=0, le=len(BANDS) - 1, description=ZOOMS)] = None,
    zoom: Annotated[int | None, Query(ge=0, le=24, description="picks the band")] = None,
) -> Response:
    """Every quartier as a GeoJSON FeatureCollection simplified for a zoom band (gzip, ETag)."""
    geo = index.choose(geography, None, HEXAGONE)
    number = band if band is not None else band_of_zoom(zoom if zoom is not None else 0)
    layer = await run_in_threadpool(_layers(request).get, geo, number)
    headers = {
        "ETag": layer.etag,
        "Cache-Control": f"public, max-age={settings.cache_max_age_s}",
        "Vary": "Accept-Encoding",
    }
    if layer.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(layer.gzipped, media_type="application/geo+json", headers=headers)
    return Response(layer.body, media_type="application/geo+json", headers=headers)
