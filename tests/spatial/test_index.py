"""The in-memory index answers exactly, with metric distances and the right geography."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import shapely
from pyproj import Geod

from app.errors import InvalidInput, NoGeographyInForce
from app.spatial.geography import Geography
from app.spatial.index import GeographyIndex, PointStatus, QpvIndex
from app.spatial.territories import TERRITORY_BY_KEY

TOLERANCE = 15.0
GEOD = Geod(ellps="GRS80")


@pytest.fixture(params=list(Geography), ids=lambda g: f"qpv{g}")
def geo(request: pytest.FixtureRequest, qpv_index: QpvIndex) -> GeographyIndex:
    return qpv_index.get(request.param)


def test_both_geographies_load_with_their_official_counts(qpv_index: QpvIndex) -> None:
    counts = {g: len(geo.infos) for g, geo in qpv_index.geographies.items()}
    assert counts == {Geography.QPV2015: 1514, Geography.QPV2024: 1584}


def test_a_point_inside_every_quartier_answers_in_with_its_code(geo: GeographyIndex) -> None:
    wrong = []
    for i, info in enumerate(geo.infos):
        point = shapely.point_on_surface(geo.geoms[i])
        answer = geo.lookup(point.x, point.y, TOLERANCE)
        codes = [q.code for q in (answer.qpv, *answer.also_in) if q]
        if not answer.inside or info.code not in codes:
            wrong.append(info.code)
    assert wrong == []


def test_a_boundary_vertex_counts_as_inside(geo: GeographyIndex) -> None:
    for i in range(0, len(geo.infos), 97):
        x, y = shapely.get_coordinates(geo.geoms[i])[0]
        answer = geo.lookup(x, y, TOLERANCE)
        assert answer.inside
        assert answer.status is PointStatus.NEAR_BOUNDARY
        assert answer.distance_m == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize(
    ("lat", "lon", "geography", "code"),
    [
        (48.88699, 2.35313, Geography.QPV2024, "QN07511M"),
        (48.88699, 2.35313, Geography.QPV2015, "QP075012"),
        (46.247535, 6.02841, Geography.QPV2015, "QP001003"),
        (44.37895, 2.57025, Geography.QPV2024, "QN01203N"),
    ],
)
def test_known_points_are_in_their_quartier(
    qpv_index: QpvIndex, lat: float, lon: float, geography: Geography, code: str
) -> None:
    answer = qpv_index.lookup(lon, lat, TOLERANCE, geography=geography)
    assert answer.status is PointStatus.IN
    assert answer.qpv is not None and answer.qpv.code == code
    assert answer.geography is geography


@pytest.mark.parametrize(
    ("lat", "lon", "in_2015", "in_2024"),
    [(46.247535, 6.02841, True, False), (44.37895, 2.57025, False, True)],
)
def test_the_same_point_can_differ_between_geographies(
    qpv_index: QpvIndex, lat: float, lon: float, in_2015: bool, in_2024: bool
) -> None:
    answers = {g: qpv_index.lookup(lon, lat, TOLERANCE, geography=g).status for g in Geography}
    assert answers[Geography.QPV2015] is (PointStatus.IN if in_2015 else PointStatus.OUT)
    assert answers[Geography.QPV2024] is (PointStatus.IN if in_2024 else PointStatus.OUT)


def test_points_far_from_quartiers_answer_out_with_the_true_nearest(geo: GeographyIndex) -> None:
    rng = np.random.default_rng(7)
    part = geo.parts["hexagone"]
    lons, lats = rng.uniform(-1.5, 7.5, 40), rng.uniform(43.5, 49.5, 40)
    for lon, lat in zip(lons, lats, strict=True):
        answer = geo.lookup(lon, lat, TOLERANCE)
        if answer.inside:
            continue
        x, y = TERRITORY_BY_KEY["hexagone"].to_metric().transform(lon, lat)
        # Brute force over every boundary of the territory, independent of the tree.
        distances = shapely.distance(part.boundaries, shapely.Point(x, y))
        best = int(part.ids[np.argmin(distances)])
        assert answer.status is PointStatus.OUT
        assert answer.nearest is not None and answer.nearest.code == geo.infos[best].code
        assert answer.distance_m == pytest.approx(distances.min())


@pytest.mark.parametrize("territory", ["reunion", "guyane", "mayotte", "antilles", "polynesie"])
@pytest.mark.parametrize("offset_m", [40.0, 800.0])
def test_overseas_distances_are_metric_and_match_the_ellipsoid(
    qpv_index: QpvIndex, territory: str, offset_m: float
) -> None:
    geo = qpv_index.get(Geography.QPV2024)
    i = next(i for i, q in enumerate(geo.infos) if q.territory == territory)
    lon0, lat0 = shapely.get_coordinates(shapely.envelope(geo.geoms[i]).exterior)[0]
    # Due south-west of the bounding box corner is outside this quartier.
    lon, lat, _ = GEOD.fwd(lon0, lat0, 225, offset_m)
    answer = geo.lookup(lon, lat, TOLERANCE)
    assert answer.territory is not None and answer.territory.key == territory
    assert answer.distance_m is not None
    # The true geodesic distance to the nearest boundary point found in the metric CRS.
    t = TERRITORY_BY_KEY[territory]
    part = geo.parts[territory]
    x, y = t.to_metric().transform(lon, lat)
    local = int(np.flatnonzero(part.ids == geo.by_code[answer.nearest.code])[0])  # type: ignore[union-attr]
    near = shapely.shortest_line(shapely.Point(x, y), part.boundaries[local])
    _start, (x2, y2) = shapely.get_coordinates(near)
    (blon, blat) = t.from_metric().transform(x2, y2)
    _, _, geodesic = GEOD.inv(lon, lat, blon, blat)
    assert answer.distance_m == pytest.approx(geodesic, rel=2e-3, abs=0.5)
    assert answer.distance_m >= offset_m * 0.99 or answer.nearest.code != geo.infos[i].code  # type: ignore[union-attr]


def test_a_point_within_the_tolerance_is_near_boundary_with_its_side(qpv_index: QpvIndex) -> None:
    geo = qpv_index.get(Geography.QPV2024)
    i = geo.by_code["QN07511M"]
    lon0, lat0 = shapely.get_coordinates(shapely.envelope(geo.geoms[i]).exterior)[0]
    lon, lat, _ = GEOD.fwd(lon0, lat0, 225, 5.0)
    answer = geo.lookup(lon, lat, TOLERANCE)
    assert answer.status is PointStatus.NEAR_BOUNDARY
    assert answer.inside is False
    assert 0 < answer.distance_m <= TOLERANCE  # type: ignore[operator]
    assert answer.signed_distance_m == answer.distance_m


@pytest.mark.parametrize(
    ("on", "lon", "lat", "expected"),
    [
        (date(2017, 6, 1), 2.35313, 48.88699, Geography.QPV2015),
        (date(2023, 12, 31), 2.35313, 48.88699, Geography.QPV2015),
        (date(2024, 1, 1), 2.35313, 48.88699, Geography.QPV2024),
        (date(2024, 6, 1), 55.45, -20.88, Geography.QPV2015),  # Réunion kept 2015 in 2024
        (date(2025, 1, 1), 55.45, -20.88, Geography.QPV2024),
        (date(2024, 12, 31), 8.74, 41.92, Geography.QPV2024),  # Corsica follows the hexagone
    ],
)
def test_as_of_picks_the_geography_in_force_at_the_place(
    qpv_index: QpvIndex, on: date, lon: float, lat: float, expected: Geography
) -> None:
    assert qpv_index.lookup(lon, lat, TOLERANCE, as_of=on).geography is expected


def test_default_geography_is_the_one_in_force_today(qpv_index: QpvIndex) -> None:
    assert qpv_index.lookup(2.35313, 48.88699, TOLERANCE).geography is Geography.QPV2024


def test_before_2015_no_geography_is_in_force(qpv_index: QpvIndex) -> None:
    with pytest.raises(NoGeographyInForce):
        qpv_index.lookup(2.35313, 48.88699, TOLERANCE, as_of=date(2014, 12, 31))


@pytest.mark.parametrize(("lon", "lat"), [(float("nan"), 48.0), (2.0, float("inf"))])
def test_non_finite_coordinates_are_refused(qpv_index: QpvIndex, lon: float, lat: float) -> None:
    with pytest.raises(InvalidInput):
        qpv_index.lookup(lon, lat, TOLERANCE)


def test_a_point_outside_every_territory_is_out_without_distance(qpv_index: QpvIndex) -> None:
    answer = qpv_index.lookup(-30.0, 40.0, TOLERANCE)
    assert answer.status is PointStatus.OUT
    assert answer.distance_m is None and answer.territory is None


def test_vectorised_tagging_agrees_with_single_lookups(geo: GeographyIndex) -> None:
    rng = np.random.default_rng(3)
    centres = shapely.get_coordinates(shapely.centroid(geo.geoms))
    picks = centres[rng.integers(0, len(centres), 2000)]
    lon = picks[:, 0] + rng.normal(0, 0.004, 2000)
    lat = picks[:, 1] + rng.normal(0, 0.003, 2000)
    tagged = geo.tag(lon, lat)
    single = np.array([(geo.covering(x, y) or [-1])[0] for x, y in zip(lon, lat, strict=True)])
    assert (tagged >= 0).sum() > 300
    np.testing.assert_array_equal(tagged, single)


@pytest.mark.parametrize(
    ("departement", "minimum"), [("93", 50), ("2A", 3), ("974", 40), ("075", 15)]
)
def test_search_filters_by_departement(qpv_index: QpvIndex, departement: str, minimum: int) -> None:
    geo = qpv_index.get(Geography.QPV2024)
    ids = geo.search(departement=departement)
    assert len(ids) >= minimum
    assert {geo.infos[i].departement for i in ids} == {departement.lstrip("0")}


def test_lookup_many_answers_as_lookup_does_point_by_point(qpv_index: QpvIndex) -> None:
    import shapely

    rng = np.random.default_rng(11)
    for geography in (Geography.QPV2024, Geography.QPV2015):
        geo = qpv_index.get(geography)
        vertices = shapely.get_coordinates(geo.geoms[:300])[::7]
        n = len(vertices)
        lon = np.concatenate([vertices[:, 0] + rng.normal(0, 0.0003, n), [2.35, 55.45, -40.0]])
        lat = np.concatenate([vertices[:, 1] + rng.normal(0, 0.0002, n), [48.85, -20.88, 10.0]])
        many = geo.lookup_many(lon, lat, 15.0)
        single = [geo.lookup(x, y, 15.0) for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]
        assert many == single


@pytest.mark.parametrize("geography", [Geography.QPV2024, Geography.QPV2015])
def test_nearest_among_segments_answers_as_the_boundary_tree(
    qpv_index: QpvIndex, geography: Geography
) -> None:
    import shapely

    rng = np.random.default_rng(5)
    geo = qpv_index.get(geography)
    for part in geo.parts.values():
        # Every vertex (on a boundary, shared ones tie) and points around and far away.
        x, y = shapely.get_coordinates(part.boundaries).T
        x = np.concatenate([x, x[::3] + rng.normal(0, 40, x[::3].size), x[:50] + 30_000])
        y = np.concatenate([y, y[::3] + rng.normal(0, 40, y[::3].size), y[:50] - 20_000])
        (inputs, local), distance = part.tree.query_nearest(
            shapely.points(x, y), return_distance=True
        )
        _, first = np.unique(inputs, return_index=True)
        found, found_distance = part.nearest(x, y)
        np.testing.assert_array_equal(found, local[first])
        np.testing.assert_array_equal(found_distance, distance[first])
