"""Importing official QPV files: formats, CRSs, repairs, checks, idempotence, atomicity."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pyogrio
import pytest
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.data.importer import import_qpv_file
from app.data.reader import read_qpv_file
from app.db.models import Dataset, Qpv
from app.db.session import make_engine
from app.errors import ImportRefused
from app.spatial.geography import Geography
from tests.conftest import GEODATA, QPV2015_SHP, QPV2024_GEOJSON

QPV2015_DIR = GEODATA / "qpv2015"


def _counts(url: str) -> tuple[int, int]:
    with Session(make_engine(url)) as session:
        return (
            session.scalar(select(func.count()).select_from(Dataset)) or 0,
            session.scalar(select(func.count()).select_from(Qpv)) or 0,
        )


def _zip_shapefile(target: Path, *stems: str) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for stem in stems:
            for part in QPV2015_DIR.glob(f"{stem}.*"):
                archive.write(part, f"qp-politiquedelaville-shp/{part.name}")
    return target


@pytest.mark.parametrize(
    ("path", "geography", "count", "repaired"),
    [(QPV2015_SHP, Geography.QPV2015, 1514, 34), (QPV2024_GEOJSON, Geography.QPV2024, 1584, 586)],
)
def test_official_files_import_with_their_counts_on_each_backend(
    database_url: str, path: Path, geography: Geography, count: int, repaired: int
) -> None:
    report = import_qpv_file(make_engine(database_url), path)
    assert (report.geography, report.feature_count, report.repaired_count) == (
        geography,
        count,
        repaired,
    )
    assert _counts(database_url) == (1, count)
    with Session(make_engine(database_url)) as session:
        geoms = [q.geom for q in session.scalars(select(Qpv))]
    assert all(shapely.is_valid(g) and g.geom_type == "MultiPolygon" for g in geoms)


def test_importing_the_same_file_twice_changes_nothing(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    first = import_qpv_file(engine, QPV2015_SHP)
    second = import_qpv_file(engine, QPV2015_SHP)
    assert first.created and not second.created
    assert second.dataset_id == first.dataset_id
    assert _counts(sqlite_url) == (1, 1514)


def test_a_zipped_official_archive_picks_the_national_file(tmp_path: Path, sqlite_url: str) -> None:
    archive = _zip_shapefile(
        tmp_path / "qp-politiquedelaville-shp.zip",
        "QP_METROPOLEOUTREMER_WGS84_EPSG4326",
        "QP_MAYOTTE_RGM04_UTM38S",
    )
    report = import_qpv_file(make_engine(sqlite_url), archive)
    assert report.feature_count == 1514


def test_an_archive_with_several_candidates_asks_for_a_member(tmp_path: Path) -> None:
    archive = _zip_shapefile(
        tmp_path / "two.zip", "QP_MAYOTTE_RGM04_UTM38S", "QP_GUYANE_RGF95_UTM22N"
    )
    with pytest.raises(ImportRefused, match="--member"):
        read_qpv_file(archive)
    assert len(read_qpv_file(archive, member="QP_GUYANE_RGF95_UTM22N.shp").rows) == 32


@pytest.mark.parametrize(
    "stem",
    [
        "QP_LAREUNION_RGR92_UTM40S",
        "QP_GUYANE_RGF95_UTM22N",
        "QP_MAYOTTE_RGM04_UTM38S",
        "QP_MARTINIQUE_WGS84_UTM20N",
        "QP_METROPOLE_LB93",
    ],
)
def test_projected_files_are_reprojected_onto_the_national_wgs84_file(stem: str) -> None:
    national = {row.code: row.geom for row in read_qpv_file(QPV2015_SHP).rows}
    local = read_qpv_file(QPV2015_DIR / f"{stem}.shp").rows
    # The same quartier published in two CRSs must land on the same place: within ~5 m
    # (the publisher's own datum shifts reach 3.4 m in Guyane).
    for row in local[:: max(1, len(local) // 10)]:
        assert shapely.hausdorff_distance(row.geom, national[row.code]) < 5e-5


def test_a_geopackage_in_lambert93_imports(tmp_path: Path, sqlite_url: str) -> None:
    gpkg = tmp_path / "qpv.gpkg"
    frame = pyogrio.read_dataframe(QPV2015_DIR / "QP_METROPOLE_LB93.shp")
    pyogrio.write_dataframe(frame, gpkg, driver="GPKG")
    report = import_qpv_file(make_engine(sqlite_url), gpkg)
    assert report.feature_count == 1296


def test_the_full_official_2024_schema_is_mapped(tmp_path: Path) -> None:
    source = json.loads(QPV2024_GEOJSON.read_text(encoding="utf-8"))
    features = source["features"][:3]
    for feature in features:
        feature["properties"] |= {
            "lib_com": "Bourg-en-Bresse",
            "insee_dep": "01",
            "lib_dep": "Ain",
            "insee_reg": "84",
            "lib_reg": "Auvergne-Rhône-Alpes",
            "siren_epci": "200071751",
        }
    path = tmp_path / "QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    rows = read_qpv_file(path).rows
    assert [r.code for r in rows] == ["QN00101M", "QN00102M", "QN00103M"]
    assert rows[0].communes == "Bourg-en-Bresse"
    assert rows[0].insee_codes == "01053"
    assert rows[0].name == "Grande Reyssouze Terre Des Fleurs"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"type": "FeatureCollection", "features": [', "could not be read"),
        ("not a geo file at all", "could not be read"),
        ('{"type": "FeatureCollection", "features": []}', "no feature"),
        (
            '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
            '{"code_qp":"XX123","lib_qp":"A"},"geometry":{"type":"Point","coordinates":[2,48]}}]}',
            "neither",
        ),
        (
            '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
            '{"code_qp":"QN07511M","lib_qp":"A"},"geometry":{"type":"Point","coordinates":[2,48]}}]}',
            "no polygonal geometry",
        ),
        (
            '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
            '{"id":"QN07511M"},"geometry":{"type":"Point","coordinates":[2,48]}}]}',
            "no QPV code",
        ),
    ],
)
def test_a_broken_file_is_refused_and_leaves_the_database_unchanged(
    tmp_path: Path, sqlite_url: str, content: str, message: str
) -> None:
    import_qpv_file(make_engine(sqlite_url), QPV2015_SHP)
    path = tmp_path / "broken.geojson"
    path.write_text(content)
    with pytest.raises(ImportRefused, match=message):
        import_qpv_file(make_engine(sqlite_url), path)
    assert _counts(sqlite_url) == (1, 1514)


def test_a_geography_that_contradicts_the_codes_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ImportRefused, match="do not match the 2015 format"):
        import_qpv_file(make_engine(sqlite_url), QPV2024_GEOJSON, Geography.QPV2015)
    assert _counts(sqlite_url) == (0, 0)


def test_duplicate_codes_are_refused(tmp_path: Path) -> None:
    source = json.loads(QPV2024_GEOJSON.read_text(encoding="utf-8"))
    source["features"] = [source["features"][0], source["features"][0]]
    path = tmp_path / "dup.geojson"
    path.write_text(json.dumps(source))
    with pytest.raises(ImportRefused, match="appear twice"):
        read_qpv_file(path)


def test_corsica_codes_are_accepted_and_placed_in_the_hexagone() -> None:
    rows = [r for r in read_qpv_file(QPV2024_GEOJSON).rows if r.departement in {"2A", "2B"}]
    assert len(rows) == 5
    assert {r.territory for r in rows} == {"hexagone"}
