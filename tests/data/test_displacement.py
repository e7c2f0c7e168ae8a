"""Geometry compared, not only areas: a quartier moved 50 km and a geography shifted 2 km are
refused without --force, naming the quartiers and distances; a real redrawing (2015 -> 2024)
and re-exports of the same file (Lambert-93 vs WGS84, the 2024 file rounded again) pass.
The moved and shifted files are built here from the real data."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.affinity import translate
from shapely.geometry import mapping, shape

from app.cli import main
from app.data.displacement import M_PER_DEGREE, direction, displacements, distance_text
from app.data.importer import import_qpv_file
from app.data.plausibility import ImportLimits, compare
from app.data.reader import read_qpv_file
from app.db.access import data_generation
from app.db.session import make_engine
from tests.conftest import BACKENDS, GEODATA, QPV2015_SHP, QPV2024_GEOJSON
from tests.data.stored import backend_database, counts

LIMITS = ImportLimits.default()
GOUTTE_D_OR = "QN07511M"
Geoms = dict[str, shapely.Geometry]


def _east(geom: shapely.Geometry, metres: float) -> shapely.Geometry:
    return translate(geom, metres / (M_PER_DEGREE * math.cos(math.radians(geom.centroid.y))))


def _north(geom: shapely.Geometry, metres: float) -> shapely.Geometry:
    return translate(geom, 0, metres / M_PER_DEGREE)


def _rerounded(geom: shapely.Geometry) -> shapely.Geometry:
    """The same quartier rounded to 4 decimals again from (simulated) full precision: each
    coordinate moves by up to one step, the same way wherever it appears (rings stay closed)."""
    return shapely.make_valid(
        shapely.transform(geom, lambda xy: np.round(xy + 5e-5 * np.sin(xy * 1e7), 4))
    )


def _rows(path: Path) -> Geoms:
    return {row.code: row.geom for row in read_qpv_file(path).rows}


@pytest.fixture(scope="module")
def qpv2024() -> Geoms:
    """The 2024 quartiers as imported (read, repaired), by code."""
    return _rows(QPV2024_GEOJSON)


@pytest.fixture(scope="module")
def qpv2015() -> Geoms:
    """The 2015 quartiers of the national WGS84 file, by code."""
    return _rows(QPV2015_SHP)


def _changed(old: Geoms, change: Callable[[str, shapely.Geometry], shapely.Geometry]) -> Geoms:
    return {code: change(code, geom) for code, geom in old.items()}


def _problems(old: Geoms, new: Geoms) -> list[str]:
    return compare(1, old.items(), new.items(), LIMITS).problems()


def test_a_quartier_moved_50_km_is_named_with_its_distance(qpv2024: Geoms) -> None:
    moved = _changed(qpv2024, lambda c, g: _east(g, 50_000) if c == GOUTTE_D_OR else g)
    changes = compare(1, qpv2024.items(), moved.items(), LIMITS)
    assert changes.exceeded == ("quartiers moved",)
    assert changes.problems() == [
        "moved quartiers (1): QN07511M 50.0 km east, no overlap left "
        "(QPV_IMPORT_MAX_CENTROID_SHIFT_M and QPV_IMPORT_MAX_OVERLAP_LOST)"
    ]


def test_a_geography_shifted_2_km_is_reported_as_one_shift(qpv2024: Geoms) -> None:
    shifted = _changed(qpv2024, lambda _, g: _north(g, 2_000))
    changes = compare(1, qpv2024.items(), shifted.items(), LIMITS)
    assert changes.exceeded == ("geography-wide shift",)
    assert changes.problems() == [
        "every quartier moved 2.0 km north: a CRS or datum mistake? (QPV_IMPORT_MAX_COMMON_SHIFT_M)"
    ]


def test_a_quartier_moved_within_a_shifted_geography_is_named_beside_the_shift(
    qpv2024: Geoms,
) -> None:
    both = _changed(
        qpv2024, lambda c, g: _north(_east(g, 50_000) if c == GOUTTE_D_OR else g, 2_000)
    )
    assert _problems(qpv2024, both) == [
        "1583 of 1584 quartiers moved 2.0 km north: a CRS or datum mistake? "
        "(QPV_IMPORT_MAX_COMMON_SHIFT_M)",
        "moved quartiers (1): QN07511M 50.0 km east, no overlap left "
        "(QPV_IMPORT_MAX_CENTROID_SHIFT_M and QPV_IMPORT_MAX_OVERLAP_LOST)",
    ]


def test_the_2024_file_rounded_again_passes(qpv2024: Geoms) -> None:
    rerounded = _changed(qpv2024, lambda _, g: _rerounded(g))
    changes = compare(1, qpv2024.items(), rerounded.items(), LIMITS)
    assert changes.exceeded == ()
    assert 0 < changes.displacements.largest[0].distance_m < 100


def test_the_2015_file_in_lambert93_passes_against_the_wgs84_one(qpv2015: Geoms) -> None:
    lambert = _rows(GEODATA / "qpv2015" / "QP_METROPOLE_LB93.shp")
    assert len(lambert) == 1296
    moves = displacements(
        {code: qpv2015[code] for code in lambert},
        lambert,
        max_centroid_shift_m=LIMITS.max_centroid_shift_m,
        max_overlap_lost=LIMITS.max_overlap_lost,
        max_common_shift_m=LIMITS.max_common_shift_m,
    )
    assert (moves.compared, moves.shift, moves.moved, moves.largest) == (1296, None, (), ())


def _redrawn(qpv2015: Geoms, qpv2024: Geoms) -> list[tuple[str, str]]:
    """2015 codes paired with the 2024 quartier of the same département overlapping most."""
    old_codes, new_codes = list(qpv2015), list(qpv2024)
    old = np.array([qpv2015[c] for c in old_codes])
    new = np.array([qpv2024[c] for c in new_codes])
    i, j = shapely.STRtree(new).query(old, predicate="intersects")
    # QPdddnnn and QNdddnnX: the département is the same three characters.
    same = np.array([old_codes[a][2:5] == new_codes[b][2:5] for a, b in zip(i, j, strict=True)])
    i, j = i[same], j[same]
    shared = shapely.area(shapely.intersection(old[i], new[j]))
    best: dict[int, tuple[float, int]] = {}
    for a, b, area in zip(i, j, shared, strict=True):
        if area > best.get(a, (0.0, -1))[0]:
            best[a] = (area, b)
    return [(old_codes[a], new_codes[b]) for a, (_, b) in sorted(best.items())]


def test_the_2015_to_2024_redrawing_passes_the_geometry_limits(
    qpv2015: Geoms, qpv2024: Geoms
) -> None:
    pairs = _redrawn(qpv2015, qpv2024)
    assert len(pairs) > 1400  # nearly every 2015 quartier has a 2024 successor
    old = {f"{a}>{b}": qpv2015[a] for a, b in pairs}
    new = {f"{a}>{b}": qpv2024[b] for a, b in pairs}
    changes = compare(1, old.items(), new.items(), LIMITS)
    # The areas changed a lot (quartiers grown into whole communes in Mayotte): those limits
    # are another matter; the geometry limits pass, though centroids moved up to 4.9 km.
    assert not {"geography-wide shift", "quartiers moved"} & set(changes.exceeded)
    assert changes.displacements.largest[0].distance_m > 4_000


@pytest.mark.parametrize(
    ("east", "north", "expected"),
    [
        (1, 0, "east"),
        (1, 1, "north-east"),
        (0, 1, "north"),
        (-1, 1, "north-west"),
        (-1, 0, "west"),
        (-1, -1, "south-west"),
        (0, -1, "south"),
        (1, -1, "south-east"),
        (1, 0.3, "east"),
    ],
)
def test_directions_are_the_nearest_compass_point(east: float, north: float, expected: str) -> None:
    assert direction(east, north) == expected


@pytest.mark.parametrize(("metres", "text"), [(12.4, "12 m"), (999, "999 m"), (50_040, "50.0 km")])
def test_distances_are_in_metres_then_kilometres(metres: float, text: str) -> None:
    assert distance_text(metres) == text


# ------------------------------------------------------------------ the command, both backends


def _write(folder: Path, name: str, change: Callable[[str, shapely.Geometry], Any]) -> Path:
    """The 2024 file with each feature's geometry changed by ``change(code, geometry)``."""
    source = json.loads(QPV2024_GEOJSON.read_text(encoding="utf-8"))
    for feature in source["features"]:
        geom = shape(feature["geometry"])
        feature["geometry"] = mapping(change(feature["properties"]["code_qp"], geom))
    path = folder / name
    path.write_text(json.dumps(source))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The moved, shifted and re-rounded 2024 files."""
    folder = tmp_path_factory.mktemp("moved")
    return {
        "moved": _write(
            folder, "moved.geojson", lambda c, g: _east(g, 50_000) if c == GOUTTE_D_OR else g
        ),
        "shifted": _write(folder, "shifted.geojson", lambda _, g: _north(g, 2_000)),
        "rerounded": _write(folder, "rerounded.geojson", lambda _, g: _rerounded(g)),
    }


@pytest.fixture(scope="module", params=BACKENDS)
def official_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of each backend holding the official 2024 file (dataset 1)."""
    folder = tmp_path_factory.mktemp("official")
    with backend_database(request.param, folder, "qpv_test_moved") as url:
        import_qpv_file(make_engine(url), QPV2024_GEOJSON)
        yield url


def _import(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("QPV_DATABASE_URL", url)
    return main(["data", "import", *args])


@pytest.mark.parametrize(
    ("name", "exceeded", "problem"),
    [
        (
            "moved",
            "quartiers moved",
            "moved quartiers (1): QN07511M 50.0 km east, no overlap left "
            "(QPV_IMPORT_MAX_CENTROID_SHIFT_M and QPV_IMPORT_MAX_OVERLAP_LOST)",
        ),
        (
            "shifted",
            "geography-wide shift",
            "every quartier moved 2.0 km north: a CRS or datum mistake? "
            "(QPV_IMPORT_MAX_COMMON_SHIFT_M)",
        ),
    ],
)
def test_a_moved_file_is_refused_with_one_line_per_problem_and_the_database_unchanged(
    official_url: str,
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    exceeded: str,
    problem: str,
) -> None:
    generation = data_generation(make_engine(official_url))
    assert _import(official_url, monkeypatch, str(files[name])) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, err
    assert err[0].startswith(
        f"qpv: error: {name}.geojson differs too much from the dataset in use ({exceeded} "
        "past the limits): compared with dataset 1: 1584 QPV instead of 1584 (+0.0%), "
    )
    assert err[0].endswith("; import it anyway with --force")
    assert err[1] == f"qpv: error: {problem}"
    assert counts(official_url) == (1, 1584)
    assert data_generation(make_engine(official_url)) == generation


def test_a_rerounded_file_is_imported_and_a_moved_one_only_with_force(
    database_url: str,
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import_qpv_file(make_engine(database_url), QPV2024_GEOJSON)
    assert _import(database_url, monkeypatch, str(files["rerounded"])) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("imported: rerounded.geojson -> dataset 2 (current)")
    assert out[1].startswith("changes: compared with dataset 1: 1584 QPV instead of 1584")
    assert _import(database_url, monkeypatch, str(files["moved"]), "--force") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("imported: moved.geojson -> dataset 3 (current)")
    assert out[2] == "changes: moved quartiers (1): QN07511M 50.0 km east, no overlap left " + (
        "(QPV_IMPORT_MAX_CENTROID_SHIFT_M and QPV_IMPORT_MAX_OVERLAP_LOST)"
    )
