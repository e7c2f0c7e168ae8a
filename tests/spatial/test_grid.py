"""CellGrid must answer exactly what GEOS answers (shapely.intersects_xy, lowest id wins)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from numpy.typing import NDArray

from app.data.reader import read_qpv_file
from app.errors import CorruptGrid, InvalidInput
from app.spatial.grid import CellGrid, tag_points
from app.spatial.territories import TERRITORIES
from tests.conftest import QPV2015_SHP, QPV2024_GEOJSON

GEOGRAPHIES = {"2015": QPV2015_SHP, "2024": QPV2024_GEOJSON}


def load_polygons(path: Path) -> NDArray[np.object_]:
    """The polygons of a QPV file as the importer reads them: WGS84, repaired, polygonal."""
    return np.array([row.geom for row in read_qpv_file(path).rows], dtype=object)


def reference(
    geoms: NDArray[np.object_], lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.int32]:
    """The exact answer: STRtree + intersects, lowest polygon id per point, -1 if none."""
    tree = shapely.STRtree(geoms)
    pts, polys = tree.query(shapely.points(lon, lat), predicate="intersects")
    best = np.full(len(lon), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, pts, polys)
    best[best == np.iinfo(np.int64).max] = -1
    return best.astype(np.int32)


@pytest.fixture(scope="module", params=sorted(GEOGRAPHIES))
def indexed(request: pytest.FixtureRequest, geodata: Path) -> tuple[NDArray[np.object_], CellGrid]:
    """Polygons of one geography and their grid, built once per module."""
    geoms = load_polygons(GEOGRAPHIES[request.param])
    return geoms, CellGrid.build(geoms)


def random_points(
    geoms: NDArray[np.object_], n: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Half within ~2 km of real QPVs, half uniform over each territory's bounding box."""
    rng = np.random.default_rng(seed)
    near = n // 2
    bounds = shapely.bounds(geoms)
    k = rng.integers(0, len(geoms), near)
    # ~2 km is ~0.018 degree of latitude and ~0.027 degree of longitude at 48°N.
    lon_near = rng.uniform(bounds[k, 0] - 0.027, bounds[k, 2] + 0.027)
    lat_near = rng.uniform(bounds[k, 1] - 0.018, bounds[k, 3] + 0.018)
    boxes = np.array([t.bbox for t in TERRITORIES])
    t = rng.integers(0, len(boxes), n - near)
    lon_far = rng.uniform(boxes[t, 0], boxes[t, 2])
    lat_far = rng.uniform(boxes[t, 1], boxes[t, 3])
    return np.concatenate([lon_near, lon_far]), np.concatenate([lat_near, lat_far])


def assert_same(
    grid: CellGrid, geoms: NDArray[np.object_], lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> None:
    """The grid's answer equals the reference, with a readable diff on failure."""
    got = grid.query(lon, lat)
    want = reference(geoms, lon, lat)
    assert got.dtype == np.int32
    bad = np.flatnonzero(got != want)
    assert not len(bad), (
        f"{len(bad)} mismatches, e.g. {[(lon[i], lat[i], got[i], want[i]) for i in bad[:5]]}"
    )


def test_million_random_points(indexed: tuple[NDArray[np.object_], CellGrid]) -> None:
    geoms, grid = indexed
    lon, lat = random_points(geoms, 1_000_000, seed=20240101)
    assert_same(grid, geoms, lon, lat)


def test_every_vertex_and_edge_midpoint(indexed: tuple[NDArray[np.object_], CellGrid]) -> None:
    geoms, grid = indexed
    rings = shapely.get_rings(shapely.get_parts(geoms))
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    same = idx[1:] == idx[:-1]
    mid = (xy[:-1][same] + xy[1:][same]) / 2
    pts = np.concatenate([xy, mid])
    assert len(pts) > 300_000
    assert_same(grid, geoms, pts[:, 0], pts[:, 1])


def test_points_a_hair_off_vertices_and_on_cell_lines(
    indexed: tuple[NDArray[np.object_], CellGrid],
) -> None:
    # One ulp either side of every vertex, and near points snapped onto fine cell lines:
    # where floating-point cell assignment and boundary tests are most fragile.
    geoms, grid = indexed
    xy = shapely.get_coordinates(geoms)[::3]
    lon = np.concatenate([np.nextafter(xy[:, 0], np.inf), np.nextafter(xy[:, 0], -np.inf)])
    lat = np.concatenate([np.nextafter(xy[:, 1], -np.inf), np.nextafter(xy[:, 1], np.inf)])
    rlon, rlat = random_points(geoms, 200_000, seed=7)
    step = 2.0**-13
    snapped_lon = np.round(rlon / step) * step
    snapped_lat = np.round(rlat / (step * 8)) * (step * 8)
    lon = np.concatenate([lon, snapped_lon, rlon, snapped_lon])
    lat = np.concatenate([lat, rlat, snapped_lat, snapped_lat])
    assert_same(grid, geoms, lon, lat)


def test_nan_inf_and_empty(indexed: tuple[NDArray[np.object_], CellGrid]) -> None:
    geoms, grid = indexed
    inside = shapely.get_coordinates(shapely.point_on_surface(geoms[:1]))[0]
    bad = [np.nan, np.inf, -np.inf, 1e300, -1e300, 1e10]
    lon = np.array([inside[0]] + bad + [inside[0]] * len(bad))
    lat = np.array([inside[1]] + [inside[1]] * len(bad) + bad)
    got = grid.query(lon, lat)
    assert got[0] == 0
    assert (got[1:] == -1).all()
    empty = grid.query(np.zeros(0), np.zeros(0))
    assert empty.dtype == np.int32
    assert empty.shape == (0,)
    with pytest.raises(InvalidInput, match="equal length"):
        grid.query(np.zeros(2), np.zeros(3))


def test_overlaps_holes_and_lowest_id() -> None:
    # Polygon 1 covers a whole region whose inside polygon 0 crosses; 2 has a hole
    # where 3 sits; 4 is a far-away duplicate of 0's edge shared with 1.
    big = shapely.box(2.0, 45.0, 2.01, 45.01)
    small = shapely.box(2.004, 45.004, 2.0123, 45.0061)
    holed = shapely.Polygon(
        [(5, 45), (5.01, 45), (5.01, 45.01), (5, 45.01)],
        [[(5.003, 45.003), (5.007, 45.003), (5.007, 45.007), (5.003, 45.007)]],
    )
    plug = shapely.box(5.003, 45.003, 5.007, 45.007)
    geoms = np.array(
        [small, big, holed, plug, shapely.box(-150, -17, -149.99, -16.99)], dtype=object
    )
    grid = CellGrid.build(geoms)
    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.uniform(1.99, 2.02, 50_000), rng.uniform(4.99, 5.02, 50_000)])
    lat = rng.uniform(44.99, 45.02, 100_000)
    # Exact corners and edges too.
    corners = shapely.get_coordinates(geoms)
    lon = np.concatenate([lon, corners[:, 0], [2.004, 2.0123, 5.003, 2.0]])
    lat = np.concatenate([lat, corners[:, 1], [45.005, 45.005, 45.005, 45.0]])
    assert_same(grid, geoms, lon, lat)
    assert grid.query(np.array([2.005]), np.array([45.005]))[0] == 0
    assert grid.query(np.array([2.011]), np.array([45.005]))[0] == 0
    assert grid.query(np.array([2.001]), np.array([45.001]))[0] == 1
    assert grid.query(np.array([5.005]), np.array([45.005]))[0] == 3
    assert grid.query(np.array([5.003]), np.array([45.005]))[0] == 2


def test_tag_points_and_empty_index() -> None:
    geoms = np.array([shapely.box(0, 0, 1, 1)], dtype=object)
    ids = tag_points(np.array([0.5, 1.0, 1.5]), np.array([0.5, 0.5, 0.5]), geoms)
    assert ids.tolist() == [0, 0, -1]
    none = CellGrid.build(np.array([], dtype=object))
    assert none.query(np.array([0.5]), np.array([0.5])).tolist() == [-1]
    assert none.nbytes > 0


def test_arrays_round_trip(indexed: tuple[NDArray[np.object_], CellGrid]) -> None:
    geoms, grid = indexed
    buf = io.BytesIO()
    arrays: dict[str, Any] = dict(grid.to_arrays())
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf) as loaded:
        again = CellGrid.from_arrays(geoms, loaded)
    lon, lat = random_points(geoms, 100_000, seed=11)
    assert np.array_equal(again.query(lon, lat), grid.query(lon, lat))
    assert again.nbytes == grid.nbytes
    with pytest.raises(CorruptGrid, match="polygons"):
        CellGrid.from_arrays(geoms[:-1], grid.to_arrays())


def test_edges_on_cell_lines_and_shared_edges() -> None:
    # Boxes whose edges lie exactly on fine cell lines (multiples of 2^-13 degree), two of
    # them sharing an edge, a triangle with a vertex on a cell corner: points on, and one
    # ulp either side of, every such line must get GEOS's answer.
    f = 2.0**-13
    a = shapely.box(2.0, 45.0, 2.0 + 5 * f, 45.0 + 3 * f)
    b = shapely.box(2.0 + 5 * f, 45.0, 2.0 + 9 * f, 45.0 + 3 * f)
    c = shapely.Polygon(
        [(2.0 + f, 45.0 + 4 * f), (2.0 + 7 * f, 45.0 + 4 * f), (2.0 + 4 * f, 45.0 + 9 * f)]
    )
    geoms = np.array([b, a, c], dtype=object)
    grid = CellGrid.build(geoms)
    xs = 2.0 + np.arange(-2, 12) * f
    ys = 45.0 + np.arange(-2, 12) * f
    xs = np.concatenate([xs, np.nextafter(xs, np.inf), np.nextafter(xs, -np.inf), xs + f / 2])
    ys = np.concatenate([ys, np.nextafter(ys, np.inf), np.nextafter(ys, -np.inf), ys + f / 2])
    lon, lat = (g.ravel() for g in np.meshgrid(xs, ys))
    assert_same(grid, geoms, lon, lat)
    # On the shared edge both boxes cover the point: the lowest id (b = 0) wins.
    assert grid.query(np.array([2.0 + 5 * f]), np.array([45.0 + f]))[0] == 0


def test_concurrent_queries(indexed: tuple[NDArray[np.object_], CellGrid]) -> None:
    geoms, grid = indexed
    lon, lat = random_points(geoms, 200_000, seed=5)
    want = grid.query(lon, lat)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: grid.query(lon, lat), range(8)))
    assert all(np.array_equal(r, want) for r in results)
