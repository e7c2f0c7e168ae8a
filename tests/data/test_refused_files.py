"""Bad QPV files: one line `qpv: error: ...` naming the feature and the reason, exit code 2,
the database unchanged, on each backend; and the territory edge cases that are accepted."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.data.importer import import_qpv_file
from app.data.reader import read_qpv_file
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.spatial.territories import TERRITORY_BY_KEY
from tests.conftest import BACKENDS, QPV2024_GEOJSON, _postgis_database
from tests.data.stored import counts

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[2.35, 48.85], [2.36, 48.85], [2.36, 48.86], [2.35, 48.86], [2.35, 48.85]]],
}
# A ring that folds back on itself: valid GeoJSON, no area once repaired.
FLAT = {"type": "Polygon", "coordinates": [[[2.35, 48.85], [2.36, 48.85], [2.35, 48.85]]]}
POINT = {"type": "Point", "coordinates": [2.35, 48.85]}
LINE = {"type": "LineString", "coordinates": [[2.35, 48.85], [2.36, 48.86]]}
EMPTY = {"type": "Polygon", "coordinates": []}
# Lambert-93 metres near Paris in a file that declares (by default) WGS84.
LAMBERT = {
    "type": "Polygon",
    "coordinates": [
        [
            [652000, 6862000],
            [652100, 6862000],
            [652100, 6862100],
            [652000, 6862100],
            [652000, 6862000],
        ]
    ],
}
HUGE_VERTEX = {
    "type": "Polygon",
    "coordinates": [[[2.35, 48.85], [1e308, 48.85], [2.36, 48.86], [2.35, 48.86], [2.35, 48.85]]],
}
NAN_FIRST = {
    "type": "Polygon",
    "coordinates": [[[math.nan, 48.85], [2.36, 48.85], [2.36, 48.86], [2.35, 48.85]]],
}
NAN_MIDDLE = {
    "type": "Polygon",
    "coordinates": [[[2.35, 48.85], [math.nan, 48.85], [2.36, 48.86], [2.35, 48.85]]],
}

Features = list[tuple[str, dict[str, Any] | None]]


def _ring(lon: float, lat: float, size: float) -> list[list[float]]:
    """A closed square ring with its south-west corner at lon/lat."""
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def _write(path: Path, features: Features) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code_qp": code, "lib_qp": f"Quartier {code}"},
                        "geometry": geometry,
                    }
                    for code, geometry in features
                ],
            }
        )
    )
    return path


@pytest.fixture(scope="module", params=BACKENDS)
def loaded_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of each backend holding a small valid dataset (3 quartiers)."""
    source = json.loads(QPV2024_GEOJSON.read_text(encoding="utf-8"))
    good = tmp_path_factory.mktemp("good") / "good.geojson"
    good.write_text(json.dumps({**source, "features": source["features"][:3]}))
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('refused') / 'qpv.sqlite3'}"
        upgrade(url)
        import_qpv_file(make_engine(url), good)
        yield url
        return
    with _postgis_database("qpv_test_refused") as url:
        import_qpv_file(make_engine(url), good)
        yield url


@pytest.fixture
def refused(
    loaded_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., list[str]]:
    """Runs `qpv data import ARGS`, checks exit code 2 and an unchanged database; its stderr."""
    monkeypatch.setenv("QPV_DATABASE_URL", loaded_url)

    def run(*args: str) -> list[str]:
        assert main(["data", "import", *args]) == 2
        assert counts(loaded_url) == (1, 3)
        return capsys.readouterr().err.splitlines()

    return run


REFUSED: list[tuple[str, Features, str]] = [
    ("975", [("QN97501M", SQUARE)], "feature 1 (QN97501M): département 975 has no QPV territory"),
    ("986", [("QN98601M", SQUARE)], "feature 1 (QN98601M): département 986 has no QPV territory"),
    ("988", [("QN98801M", SQUARE)], "feature 1 (QN98801M): département 988 has no QPV territory"),
    ("00", [("QN00001M", SQUARE)], "feature 1 (QN00001M): département 00 has no QPV territory"),
    ("96", [("QN09601M", SQUARE)], "feature 1 (QN09601M): département 96 has no QPV territory"),
    ("99", [("QN09901M", SQUARE)], "feature 1 (QN09901M): département 99 has no QPV territory"),
    ("20", [("QN02001M", SQUARE)], "feature 1 (QN02001M): département 20 has no QPV territory"),
    ("2015-975", [("QP975001", SQUARE)], "feature 1 (QP975001): département 975 has no"),
    (
        "second-feature",
        [("QN07501M", SQUARE), ("QN97501M", SQUARE)],
        "1 feature in no QPV territory: feature 2 (QN97501M): département 975",
    ),
    ("2A-unpadded", [("QN2A001M", SQUARE)], "feature 1 (QN2A001M)"),
    ("lower-case", [("qn07501m", SQUARE)], "match neither"),
    ("mixed", [("QN07501M", SQUARE), ("QP075001", SQUARE)], "mixes 2015"),
    ("duplicate", [("QN07501M", SQUARE), ("QN07501M", SQUARE)], "codes appear twice: QN07501M"),
    ("null-geometry", [("QN07501M", SQUARE), ("QN07502M", None)], "feature 2 (QN07502M)"),
    ("empty-geometry", [("QN07501M", EMPTY)], "feature 1 (QN07501M): empty geometry"),
    ("point", [("QN07501M", POINT)], "feature 1 (QN07501M): a Point, not a polygon"),
    ("line", [("QN07501M", LINE)], "feature 1 (QN07501M): a LineString, not a polygon"),
    ("flat", [("QN07501M", FLAT)], "feature 1 (QN07501M): no area left after repair"),
    (
        "lambert93-declared-wgs84",
        [("QN07501M", LAMBERT)],
        "1 feature outside their territory (not longitude/latitude: if EPSG:4326 is not the "
        "file's CRS, give the right one with --crs, e.g. EPSG:2154): feature 1 (QN07501M) "
        "spans 652000, 6.862e+06, 652100, 6.8621e+06, outside Hexagone et Corse",
    ),
    (
        "one-vertex-at-1e308",
        [("QN07501M", SQUARE), ("QN00101M", HUGE_VERTEX)],
        "feature 2 (QN00101M) spans 2.35, 48.85, 1e+308, 48.86, outside Hexagone et Corse",
    ),
    (
        "paris-in-reunion",
        [("QN97401M", SQUARE)],
        "feature 1 (QN97401M) spans 2.35, 48.85, 2.36, 48.86, outside La Réunion",
    ),
    ("nan-first-vertex", [("QN07501M", NAN_FIRST)], "does not read (NaN or unclosed ring)"),
    ("nan-vertex", [("QN07501M", NAN_MIDDLE)], "coordinate that is not a finite number"),
]


@pytest.mark.parametrize(
    ("features", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_a_bad_file_ends_in_one_error_line_and_leaves_the_database_unchanged(
    refused: Callable[..., list[str]], tmp_path: Path, features: Features, message: str
) -> None:
    err = refused(str(_write(tmp_path / "bad.geojson", features)))
    assert len(err) == 1, err
    assert err[0].startswith("qpv: error: bad.geojson")
    assert message in err[0]


def test_an_unknown_crs_ends_in_one_error_line(
    refused: Callable[..., list[str]], tmp_path: Path
) -> None:
    path = _write(tmp_path / "bad.geojson", [("QN07501M", SQUARE)])
    assert refused(str(path), "--crs", "EPSG:999999") == [
        "qpv: error: bad.geojson: 'EPSG:999999' is not a known CRS"
    ]


def test_a_polygon_of_a_million_vertices_is_refused_by_the_vertex_limit(
    refused: Callable[..., list[str]], tmp_path: Path
) -> None:
    angles = [2 * math.pi * i / 1_000_000 for i in range(1_000_000)]
    ring = [[2.35 + 0.01 * math.cos(a), 48.85 + 0.01 * math.sin(a)] for a in angles]
    polygon = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    assert refused(str(_write(tmp_path / "big.geojson", [("QN07511M", polygon)]))) == [
        "qpv: error: big.geojson: 1 feature with more vertices than the limit of 100,000 "
        "(QPV_IMPORT_MAX_VERTICES): feature 1 (QN07511M): 1,000,001 vertices"
    ]


@pytest.mark.parametrize(
    ("code", "departement", "territory"),
    [
        ("QN02A01M", "2A", "hexagone"),
        ("QN02B01M", "2B", "hexagone"),
        ("QN97701M", "977", "antilles"),
        ("QN97801M", "978", "antilles"),
        ("QN98701M", "987", "polynesie"),
        ("QP976001", "976", "mayotte"),
        ("QN00101M", "01", "hexagone"),
        ("QN09501M", "95", "hexagone"),
    ],
)
def test_territory_edge_cases_that_have_qpv_are_accepted(
    tmp_path: Path, code: str, departement: str, territory: str
) -> None:
    x0, y0, x1, y1 = TERRITORY_BY_KEY[territory].bbox
    lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
    square = {"type": "Polygon", "coordinates": [_ring(lon, lat, 0.01)]}
    [row] = read_qpv_file(_write(tmp_path / "ok.geojson", [(code, square)])).rows
    assert (row.code, row.departement, row.territory) == (code, departement, territory)
