"""Read an official QPV file (GeoJSON, Shapefile plain or zipped, GeoPackage) into clean rows."""

from __future__ import annotations

import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyproj import CRS, Transformer

from app.errors import ImportRefused
from app.hashing import file_sha256
from app.spatial.geography import CODE_PATTERNS, Geography, departement_of_code
from app.spatial.territories import territory_of_departement

# Field names of both official schemas (and a few seen in regional re-publications), lower case.
CODE_FIELDS = ("code_qp", "code_quartier", "code")
NAME_FIELDS = ("nom_qp", "lib_qp", "nom", "libelle")
COMMUNE_FIELDS = ("commune_qp", "lib_com", "communes", "nom_com")
INSEE_FIELDS = ("insee_com", "code_insee", "code_com", "insee")
SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
READABLE = (".geojson", ".json", ".shp", ".gpkg")


@dataclass(frozen=True, slots=True)
class QpvRow:
    """One quartier as read and repaired, ready to store."""

    code: str
    name: str
    departement: str
    territory: str
    communes: str
    insee_codes: str
    geom: shapely.MultiPolygon


@dataclass(frozen=True, slots=True)
class QpvFile:
    """The content of one official file: its geography, rows and provenance."""

    geography: Geography
    rows: list[QpvRow]
    sha256: str
    source_name: str
    source_crs: str
    repaired_count: int


def qpv_file_sha256(path: Path) -> str:
    """Content hash of a file; a shapefile is hashed with its sidecars (attributes are in .dbf)."""
    if path.suffix.lower() != ".shp":
        return file_sha256(path)
    return file_sha256(*(p for p in (path.with_suffix(e) for e in SIDECARS) if p.exists()))


def _ogr_path(path: Path, member: str | None) -> str:
    """The path GDAL reads: the file itself, or the chosen member of a zip archive."""
    if path.suffix.lower() != ".zip":
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(READABLE)]
    except zipfile.BadZipFile as exc:
        raise ImportRefused(f"{path.name} is not a readable zip archive: {exc}") from None
    if member is not None:
        chosen = [n for n in names if Path(n).name == member or n == member]
    elif len(names) == 1:
        chosen = names
    else:
        # The official 2015 archive holds one national file and one file per territory.
        chosen = [n for n in names if "METROPOLEOUTREMER" in n.upper()]
    if len(chosen) != 1:
        raise ImportRefused(
            f"{path.name} holds {len(names)} readable files; name the one to import with "
            f"--member (found: {', '.join(sorted(Path(n).name for n in names)) or 'none'})"
        )
    return f"/vsizip/{path}/{chosen[0]}"


def _pick(fields: dict[str, np.ndarray[Any, Any]], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in fields:
            return fields[name]
    return None


def _polygonal(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """Only the polygonal parts of a geometry, as one MultiPolygon (possibly empty)."""
    parts = shapely.get_parts(geom)
    polygons: list[shapely.Polygon] = []
    for part in parts:
        if isinstance(part, shapely.Polygon):
            polygons.append(part)
        elif isinstance(part, shapely.MultiPolygon | shapely.GeometryCollection):
            polygons.extend(_polygonal(part).geoms)
    return shapely.MultiPolygon([p for p in polygons if not p.is_empty])


def _repair(geoms: np.ndarray[Any, Any]) -> tuple[list[shapely.MultiPolygon], int]:
    invalid = ~shapely.is_valid(geoms)
    repaired = geoms.copy()
    repaired[invalid] = shapely.make_valid(geoms[invalid])
    return [_polygonal(g) for g in repaired], int(invalid.sum())


def _to_wgs84(geoms: np.ndarray[Any, Any], crs: CRS) -> np.ndarray[Any, Any]:
    if crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return geoms
    transformer = Transformer.from_crs(crs, 4326, always_xy=True)
    return np.asarray(
        shapely.transform(
            geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )
    )


def _detect_geography(codes: list[str], expected: Geography | None) -> Geography:
    for geography in (expected,) if expected else tuple(Geography):
        bad = [c for c in codes if not CODE_PATTERNS[geography].match(c)]
        if not bad:
            return geography
        if expected:
            sample = ", ".join(bad[:5])
            raise ImportRefused(
                f"{len(bad)} codes do not match the {geography} format "
                f"({'QPdddnnn' if geography == Geography.QPV2015 else 'QNdddnnX'}): {sample}"
            )
    raise ImportRefused(
        "the codes match neither QPdddnnn (2015) nor QNdddnnX (2024): " + ", ".join(codes[:5])
    )


def read_qpv_file(
    path: Path,
    geography: Geography | None = None,
    member: str | None = None,
    crs: str | None = None,
) -> QpvFile:
    """Read, reproject to WGS84, repair and check one QPV file; ImportRefused if it is unusable."""
    if not path.is_file():
        raise ImportRefused(f"{path} does not exist or is not a file")
    ogr_path = _ogr_path(path, member)
    try:
        meta, _fids, wkb, field_data = pyogrio.raw.read(ogr_path)
    except Exception as exc:  # GDAL raises several types; all mean "unreadable"
        raise ImportRefused(f"{path.name} could not be read as a vector file: {exc}") from None
    source_crs = crs or meta.get("crs")
    if not source_crs:
        raise ImportRefused(f"{path.name} declares no CRS; give it with --crs (e.g. EPSG:2154)")
    if len(wkb) == 0:
        raise ImportRefused(f"{path.name} holds no feature")
    fields = {name.lower(): values for name, values in zip(meta["fields"], field_data, strict=True)}
    codes_col = _pick(fields, CODE_FIELDS)
    names_col = _pick(fields, NAME_FIELDS)
    if codes_col is None or names_col is None:
        raise ImportRefused(
            f"{path.name} has no QPV code/name fields (expected CODE_QP/NOM_QP or "
            f"code_qp/lib_qp; found {', '.join(meta['fields'])})"
        )
    codes = [str(c).strip() if c is not None else "" for c in codes_col]
    found = _detect_geography(codes, geography)
    duplicates = [code for code, n in Counter(codes).items() if n > 1]
    if duplicates:
        raise ImportRefused(f"{len(duplicates)} codes appear twice: {', '.join(duplicates[:5])}")
    if any(g is None for g in wkb):
        raise ImportRefused(f"{path.name} has features without geometry")
    geoms = _to_wgs84(shapely.from_wkb(wkb), CRS.from_user_input(source_crs))
    multipolygons, repaired = _repair(geoms)
    empty = [code for code, g in zip(codes, multipolygons, strict=True) if g.is_empty]
    if empty:
        raise ImportRefused(f"{len(empty)} features have no polygonal geometry: {empty[:5]}")
    communes_col = _pick(fields, COMMUNE_FIELDS)
    insee_col = _pick(fields, INSEE_FIELDS)
    rows = []
    for i, code in enumerate(codes):
        dept = departement_of_code(code)
        rows.append(
            QpvRow(
                code=code,
                name=str(names_col[i] or "").strip(),
                departement=dept,
                territory=territory_of_departement(dept).key,
                communes=str(communes_col[i] or "").strip() if communes_col is not None else "",
                insee_codes=str(insee_col[i] or "").strip() if insee_col is not None else "",
                geom=multipolygons[i],
            )
        )
    return QpvFile(
        geography=found,
        rows=rows,
        sha256=qpv_file_sha256(path),
        source_name=path.name if member is None else f"{path.name}/{member}",
        source_crs=CRS.from_user_input(source_crs).to_string(),
        repaired_count=repaired,
    )
