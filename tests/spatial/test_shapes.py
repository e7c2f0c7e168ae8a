"""Simplified map layers: every quartier kept, fewer vertices at coarser bands, cached."""

from __future__ import annotations

import gzip

import orjson
import pytest
import shapely

from app.errors import InvalidInput
from app.spatial.geography import Geography
from app.spatial.index import QpvIndex
from app.spatial.shapes import BANDS, LayerCache, band_of_zoom, build_layer


@pytest.mark.parametrize(
    ("zoom", "band"),
    [(0, 0), (9, 0), (10, 1), (12, 1), (13, 2), (14, 2), (15, 3), (22, 3), (30, 3)],
)
def test_each_zoom_is_served_by_one_band(zoom: int, band: int) -> None:
    assert band_of_zoom(zoom) == band
    assert BANDS[band].min_zoom <= min(zoom, 22) <= BANDS[band].max_zoom


@pytest.mark.parametrize(
    ("geography", "count"), [(Geography.QPV2024, 1584), (Geography.QPV2015, 1514)]
)
def test_every_quartier_is_kept_at_every_band_with_fewer_vertices_when_coarser(
    qpv_index: QpvIndex, geography: Geography, count: int
) -> None:
    geo = qpv_index.get(geography)
    vertices = []
    for band in range(len(BANDS)):
        layer = build_layer(geo, band)
        data = orjson.loads(gzip.decompress(layer.gzipped))
        assert data == orjson.loads(layer.body)
        assert layer.features == len(data["features"]) == count
        assert {f["id"] for f in data["features"]} == set(geo.by_code)
        shapes = [shapely.geometry.shape(f["geometry"]) for f in data["features"]]
        assert all(s.area > 0 for s in shapes)
        vertices.append(sum(shapely.get_num_coordinates(s) for s in shapes))
    assert vertices == sorted(vertices)
    assert vertices[0] < vertices[-1] / 2


def test_a_simplified_quartier_stays_within_its_tolerance_of_the_exact_one(
    qpv_index: QpvIndex,
) -> None:
    geo = qpv_index.get(Geography.QPV2024)
    data = orjson.loads(build_layer(geo, 1).body)
    exact = geo.geoms[geo.by_code["QN07511M"]]
    simple = next(f for f in data["features"] if f["id"] == "QN07511M")
    distance = shapely.hausdorff_distance(exact, shapely.geometry.shape(simple["geometry"]))
    assert distance <= BANDS[1].tolerance_deg + 10 ** -BANDS[1].decimals


def test_layers_are_built_once_per_dataset_and_band(qpv_index: QpvIndex) -> None:
    cache = LayerCache()
    geo = qpv_index.get(Geography.QPV2024)
    first = cache.get(geo, 0)
    assert cache.get(geo, 0) is first
    assert cache.get(geo, 1) is not first
    assert cache.get(qpv_index.get(Geography.QPV2015), 0).etag != first.etag


def test_a_band_out_of_range_is_invalid_input(qpv_index: QpvIndex) -> None:
    with pytest.raises(InvalidInput):
        build_layer(qpv_index.get(Geography.QPV2024), len(BANDS))
