"""Batches of items already in memory (the JSON batch): points and/or addresses."""

from __future__ import annotations

import math
from typing import Any

from app.batch.options import RESULT_COLUMNS, TagOptions
from app.batch.pipeline import LAMBERT93, LAMBERT93_EPSG
from app.batch.results import INVALID, Labels, Results, result_columns
from app.geocoding.base import AddressQuery
from app.spatial.coordinates import xy_problem

ITEM_HEADER = ["lat", "lon", "address", "postcode", "citycode"]
# Rows with coordinates are tagged directly; the others are geocoded.
ITEM_OPTIONS = TagOptions(
    columns=("address",), postcode="postcode", citycode="citycode", lat="lat", lon="lon"
)


def item_row(
    lat: float | None = None,
    lon: float | None = None,
    x: float | None = None,
    y: float | None = None,
    q: str | None = None,
    numero: str | None = None,
    voie: str | None = None,
    code_postal: str | None = None,
    commune: str | None = None,
    citycode: str | None = None,
) -> list[Any]:
    """One item as a row of ITEM_HEADER (x/y in Lambert-93 turned into lat/lon)."""
    if (lat is None or lon is None) and x is not None and y is not None:
        lon, lat = LAMBERT93.transform(x, y)
        if xy_problem(x, y, LAMBERT93_EPSG) is not None:
            lon, lat = math.nan, math.nan  # invalid; mark_bad_points says why
    address = q or AddressQuery(numero=numero, voie=voie, commune=commune).text() or None
    return [lat, lon, address, code_postal, citycode]


def item_options(rows: list[list[Any]], options: TagOptions) -> TagOptions:
    """The options for these rows: without address columns when no row has an address, so
    that a batch of points needs no geocoder."""
    if any(row[2] or row[3] or row[4] for row in rows):
        return options
    return options.with_(columns=(), postcode=None, citycode=None)


def mark_bad_points(items: list[dict[str, Any]], results: Results) -> None:
    """Give the items whose x/y lie outside Lambert-93's area of use their reason."""
    for i, item in enumerate(items):
        x, y = item.get("x"), item.get("y")
        if x is None or y is None or (item.get("lat") is not None and item.get("lon") is not None):
            continue
        problem = xy_problem(x, y, LAMBERT93_EPSG)
        if problem is not None:
            results.fail(i, INVALID, problem)


def item_answers(labels: Labels, results: Results) -> list[dict[str, Any]]:
    """One plain dict per item, in order: status, reason, qpv, distance, geocoding."""
    cols = result_columns(labels, results, RESULT_COLUMNS)
    out = []
    for i in range(len(results.status)):
        v = {name: col.value(i) for name, col in cols.items()}
        geocoding = None
        if v["result_label"] is not None:
            geocoding = {
                "label": v["result_label"],
                "score": v["result_score"],
                "type": v["result_type"],
                "lat": v["latitude"],
                "lon": v["longitude"],
                "citycode": v["result_citycode"],
                "postcode": v["result_postcode"],
            }
        out.append(
            {
                "index": i,
                "status": v["qpv_status"],
                "reason": v["qpv_reason"],
                "qpv": {"code": v["qpv_code"], "name": v["qpv_name"]} if v["qpv_code"] else None,
                "distance_m": v["qpv_distance_m"],
                "geography": v["qpv_geography"],
                "geocoding": geocoding,
            }
        )
    return out
