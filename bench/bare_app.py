"""Reference for the HTTP benchmark: a bare FastAPI endpoint doing only an STRtree query."""

from __future__ import annotations

import os

import pyogrio
import shapely
from fastapi import FastAPI

_frame = pyogrio.read_dataframe(os.environ["QPV_BENCH_GEOJSON"])
_codes = list(_frame["code_qp"])
_geoms = shapely.make_valid(_frame.geometry.values)
_tree = shapely.STRtree(_geoms)
app = FastAPI()


@app.get("/point")
async def point(lat: float, lon: float) -> dict[str, str | None]:
    """The covering QPV code, or null."""
    hits = _tree.query(shapely.Point(lon, lat), predicate="intersects")
    return {"code": _codes[int(hits.min())] if hits.size else None}
