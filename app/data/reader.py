"""Read an official QPV file (GeoJSON, Shapefile plain or zipped, GeoPackage) into clean rows."""

from __future__ import annotations

import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from app.data.plausibility import ImportLimits
from app.db.records import DatasetRecord, QpvRow
from app.errors import ImportRefused, UnknownDepartement
from app.hashing import file_sha256
from app.spatial.geography import CODE_PATTERNS, Geography, departement_of_code
from app.spatial.territories import TERRITORY_BY_KEY, territory_of_departement

# Field names of both official schemas (and a few seen in regional re-publications), lower case.
CODE_FIELDS = ("code_qp", "code_quartier", "code")
NAME_FIELDS = ("nom_qp", "lib_qp", "nom", "libelle")
COMMUNE_FIELDS = ("commune_qp", "lib_com", "communes", "nom_com")
INSEE_FIELDS = ("insee_com", "code_insee", "code_com", "insee")
SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
READABLE = (".geojson", ".json", ".shp", ".gpkg")


def qpv_file_sha256(path: Path) -> str:
    """Content hash of a file; a shapefile is hashed with its sidecars (attributes are in .dbf)."""
    if path.suffix.lower() != ".shp":
        return file_sha256(path)
    return file_sha256(*(p for p in (path.with_suffix(e) for e in SIDECARS) if p.exists()))


def archive_member(path: Path, member: str | None) -> str:
    """The member of a zip archive an import reads ("" for a plain file); part of its key."""
    if path.suffix.lower() != ".zip":
        return ""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(READABLE)]
    except (zipfile.BadZipFile, OSError) as exc:
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
    return chosen[0]


def _ogr_path(path: Path, member: str) -> str:
    """The path GDAL reads: the file itself, or the chosen member of a zip archive."""
    return f"/vsizip/{path}/{member}" if member else str(path)


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


def _feature(i: int, code: str) -> str:
    """How a message names a feature: its 1-based position in the file and its code."""
    return f"feature {i + 1} ({code})" if code else f"feature {i + 1}"


def _refused(name: str, problem: str, bad: list[str]) -> ImportRefused:
    """One refusal naming the first bad features and the reason, on one line."""
    more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
    count = f"{len(bad)} features" if len(bad) > 1 else "1 feature"
    return ImportRefused(f"{name}: {count} {problem}: {'; '.join(bad[:5])}{more}")


def _detect_geography(name: str, codes: list[str], expected: Geography | None) -> Geography:
    for geography in (expected,) if expected else tuple(Geography):
        pattern = CODE_PATTERNS[geography]
        bad = [_feature(i, c) for i, c in enumerate(codes) if not pattern.match(c)]
        if not bad:
            return geography
        if expected:
            shape = "QPdddnnn" if geography == Geography.QPV2015 else "QNdddnnX"
            problem = f"with codes that do not match the {geography} format ({shape})"
            raise _refused(name, problem, bad)
    neither = [
        _feature(i, c)
        for i, c in enumerate(codes)
        if not any(p.match(c) for p in CODE_PATTERNS.values())
    ]
    if not neither:
        raise ImportRefused(f"{name} mixes 2015 (QPdddnnn) and 2024 (QNdddnnX) codes")
    raise _refused(
        name, "with codes that match neither QPdddnnn (2015) nor QNdddnnX (2024)", neither
    )


def _check_codes(name: str, codes: list[str]) -> list[str]:
    """The territory of every code; refuses duplicates and départements without QPV."""
    duplicates = [code for code, n in Counter(codes).items() if n > 1]
    if duplicates:
        raise ImportRefused(
            f"{name}: {len(duplicates)} codes appear twice: {', '.join(duplicates[:5])}"
        )
    territories: list[str] = []
    bad: list[str] = []
    for i, code in enumerate(codes):
        dept = departement_of_code(code)
        try:
            territories.append(territory_of_departement(dept).key)
        except UnknownDepartement:
            bad.append(f"{_feature(i, code)}: département {dept} has no QPV territory")
    if bad:
        raise _refused(name, "in no QPV territory", bad)
    return territories


def _read_raw(path: Path, member: str) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """The metadata, WKB geometries and lower-cased fields of the file (or archive member)."""
    ogr_path = _ogr_path(path, member)
    try:
        with warnings.catch_warnings():
            # GDAL's warnings (an unclosed ring) would print beside the one-line error;
            # the checks that follow refuse what they announce.
            warnings.simplefilter("ignore", RuntimeWarning)
            meta, _fids, wkb, field_data = pyogrio.raw.read(ogr_path)
    except Exception as exc:  # GDAL raises several types; all mean "unreadable"
        raise ImportRefused(f"{path.name} could not be read as a vector file: {exc}") from None
    if len(wkb) == 0:
        raise ImportRefused(f"{path.name} holds no feature")
    fields = {n.lower(): values for n, values in zip(meta["fields"], field_data, strict=True)}
    return meta, wkb, fields


def _source_crs(name: str, declared: str | None) -> CRS:
    if not declared:
        raise ImportRefused(f"{name} declares no CRS; give it with --crs (e.g. EPSG:2154)")
    try:
        return CRS.from_user_input(declared)
    except (CRSError, ValueError, TypeError):
        raise ImportRefused(f"{name}: {declared[:100]!r} is not a known CRS") from None


def _why_not_polygonal(geom: shapely.Geometry) -> str:
    if geom.is_empty:
        return "empty geometry"
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return "no area left after repair"
    return f"a {geom.geom_type}, not a polygon"


def _vertex_counts(name: str, codes: list[str], geoms: Any, max_vertices: int) -> None:
    """Refuses quartiers past the vertex limit (a runaway export would be served whole)."""
    counts = shapely.get_num_coordinates(geoms)
    big = [
        f"{_feature(int(i), codes[i])}: {counts[i]:,} vertices"
        for i in np.flatnonzero(counts > max_vertices)
    ]
    if big:
        limit = f"{max_vertices:,} (QPV_IMPORT_MAX_VERTICES)"
        raise _refused(name, f"with more vertices than the limit of {limit}", big)


def _finite(name: str, codes: list[str], geoms: Any, problem: str) -> None:
    """Refuses features with a NaN or infinite coordinate."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    bad = np.unique(owner[~np.isfinite(coords).all(axis=1)])
    if bad.size:
        raise _refused(name, problem, [_feature(int(i), codes[i]) for i in bad])


def _inside(name: str, codes: list[str], geoms: Any, territories: list[str], crs: CRS) -> None:
    """Refuses features that reach outside the box of their code's territory."""
    bounds = shapely.bounds(geoms)
    boxes = np.array([TERRITORY_BY_KEY[key].bbox for key in territories])
    outside = (bounds[:, :2] < boxes[:, :2]).any(axis=1) | (bounds[:, 2:] > boxes[:, 2:]).any(
        axis=1
    )
    bad = [
        f"{_feature(int(i), codes[i])} spans {', '.join(f'{v:.6g}' for v in bounds[i])}, "
        f"outside {TERRITORY_BY_KEY[territories[i]].name}"
        for i in np.flatnonzero(outside)
    ]
    if not bad:
        return
    hint = ""
    if (np.abs(bounds[:, [0, 2]]) > 180).any() or (np.abs(bounds[:, [1, 3]]) > 90).any():
        hint = (
            f" (not longitude/latitude: if {crs.to_string()} is not the file's CRS, "
            "give the right one with --crs, e.g. EPSG:2154)"
        )
    raise _refused(name, f"outside their territory{hint}", bad)


def _geometries(
    name: str, codes: list[str], wkb: Any, crs: CRS, territories: list[str], max_vertices: int
) -> tuple[list[shapely.MultiPolygon], int]:
    """Every feature's geometry in WGS84, repaired, as a MultiPolygon; refuses unusable ones."""
    missing = [_feature(i, c) for i, (c, g) in enumerate(zip(codes, wkb, strict=True)) if g is None]
    if missing:
        raise _refused(name, "without geometry", missing)
    # A NaN vertex can leave a ring that GEOS cannot close: one refusal, not a traceback.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the refusal below says it, once
        source = shapely.from_wkb(wkb, on_invalid="ignore")
    unreadable = [
        _feature(i, c) for i, (c, g) in enumerate(zip(codes, source, strict=True)) if g is None
    ]
    if unreadable:
        raise _refused(
            name, "with a geometry that does not read (NaN or unclosed ring)", unreadable
        )
    _vertex_counts(name, codes, source, max_vertices)
    _finite(name, codes, source, "with a coordinate that is not a finite number")
    geoms = _to_wgs84(source, crs)
    _finite(name, codes, geoms, f"with coordinates that do not project from {crs.to_string()}")
    _inside(name, codes, geoms, territories, crs)
    multipolygons, repaired = _repair(geoms)
    empty = [
        f"{_feature(i, code)}: {_why_not_polygonal(geoms[i])}"
        for i, (code, g) in enumerate(zip(codes, multipolygons, strict=True))
        if g.is_empty
    ]
    if empty:
        raise _refused(name, "with no polygonal geometry", empty)
    return multipolygons, repaired


def _text_column(fields: dict[str, Any], names: tuple[str, ...], n: int) -> list[str]:
    column = _pick(fields, names)
    if column is None:
        return [""] * n
    return [str(value or "").strip() for value in column]


def read_qpv_file(
    path: Path,
    geography: Geography | None = None,
    member: str | None = None,
    crs: str | None = None,
    max_vertices: int | None = None,
) -> DatasetRecord:
    """Read, reproject to WGS84, repair and check one QPV file; ImportRefused if it is unusable."""
    if not path.is_file():
        raise ImportRefused(f"{path} does not exist or is not a file")
    chosen = archive_member(path, member)
    meta, wkb, fields = _read_raw(path, chosen)
    source_crs = _source_crs(path.name, crs or meta.get("crs"))
    codes_col = _pick(fields, CODE_FIELDS)
    if codes_col is None or _pick(fields, NAME_FIELDS) is None:
        raise ImportRefused(
            f"{path.name} has no QPV code/name fields (expected CODE_QP/NOM_QP or "
            f"code_qp/lib_qp; found {', '.join(meta['fields'])})"
        )
    codes = [str(c).strip() if c is not None else "" for c in codes_col]
    found = _detect_geography(path.name, codes, geography)
    territories = _check_codes(path.name, codes)
    multipolygons, repaired = _geometries(
        path.name,
        codes,
        wkb,
        source_crs,
        territories,
        ImportLimits.default().max_vertices if max_vertices is None else max_vertices,
    )
    names = _text_column(fields, NAME_FIELDS, len(codes))
    communes = _text_column(fields, COMMUNE_FIELDS, len(codes))
    insee_codes = _text_column(fields, INSEE_FIELDS, len(codes))
    rows = [
        QpvRow(
            code=code,
            name=names[i],
            departement=departement_of_code(code),
            territory=territories[i],
            communes=communes[i],
            insee_codes=insee_codes[i],
            geom=multipolygons[i],
        )
        for i, code in enumerate(codes)
    ]
    return DatasetRecord(
        geography=found,
        rows=rows,
        sha256=qpv_file_sha256(path),
        source_name=f"{path.name}/{Path(chosen).name}" if chosen else path.name,
        source_crs=source_crs.to_string(),
        repaired_count=repaired,
        member=chosen,
    )
