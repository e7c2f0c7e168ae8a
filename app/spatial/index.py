"""The in-memory QPV index: exact membership (covers), metric distances, geography choice."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np
import shapely
from numpy.typing import NDArray

from app.codes import commune_code
from app.errors import CorruptGrid, GeographyNotLoaded, InvalidInput
from app.folding import fold
from app.spatial.communes import CommuneIndex
from app.spatial.geography import Geography, geography_in_force
from app.spatial.grid import CellGrid
from app.spatial.records import DatasetInfo, QpvInfo, QpvSource
from app.spatial.territories import (
    TERRITORIES,
    TERRITORY_BY_KEY,
    Territory,
    territory_of_point,
)

HEXAGONE = TERRITORY_BY_KEY["hexagone"]
# Raster of cells near a boundary (see _TerritoryPart.maybe_near): 1/64° is at least 1.08 km
# of longitude up to 51.6°N, the hexagone's northern edge; the rest of France is wider.
NEAR_CELLS_PER_DEGREE = 64
SAMPLE_M = 100.0
NEAR_MAX_M = 500.0  # tolerances above this skip the raster (1,080 - 500 - 50 m of margin)
# Finer rasters for small tolerances, as (cells per degree, sample spacing, max tolerance):
# a cell is at least 111.3 km * cos(51.6°) / cells wide up to 51.6°N (135 m at 1/512°,
# 33.8 m at 1/2048°), and a point within the tolerance of a boundary is within
# tolerance + spacing / 2 of a sample, less than a cell, so in a marked cell.
FINE_LEVELS = ((2048, 20.0, 15.0), (512, 40.0, 100.0))
FINE_MAX_M = FINE_LEVELS[-1][2]


class PointStatus(StrEnum):
    """Status of a point answer."""

    IN = "in"
    OUT = "out"
    NEAR_BOUNDARY = "near_boundary"


@dataclass(frozen=True, slots=True)
class PointAnswer:
    """The answer for one point in one geography."""

    status: PointStatus
    inside: bool
    qpv: QpvInfo | None  # the quartier holding the point
    also_in: tuple[QpvInfo, ...]  # other quartiers holding it (overlaps of repaired data)
    nearest: QpvInfo | None  # the quartier whose boundary is nearest
    distance_m: float | None  # to the nearest QPV boundary; None outside every territory
    territory: Territory | None
    geography: Geography
    dataset: DatasetInfo
    reason: str

    @property
    def signed_distance_m(self) -> float | None:
        """Distance to the nearest boundary, negative inside a QPV and positive outside."""
        if self.distance_m is None:
            return None
        return -self.distance_m if self.inside else self.distance_m


@dataclass(slots=True)
class _TerritoryPart:
    """The metric side of one territory: boundaries in its CRS and a tree over them."""

    territory: Territory
    ids: NDArray[np.int64]  # global quartier ids of this territory
    boundaries: NDArray[np.object_]
    tree: shapely.STRtree
    _segments: shapely.STRtree | None = None
    _segment_owner: NDArray[np.int64] | None = None  # part-local boundary of each segment
    _near_cells: NDArray[np.bool_] | None = None  # lon/lat raster: cells near a boundary
    _fine_cells: dict[int, NDArray[np.int64]] = field(default_factory=dict)  # sorted ids

    def segment_tree(self) -> shapely.STRtree:
        """A tree over every boundary segment, built on first use (arrays of points only).

        Small segment envelopes make "within d metres of a boundary" a cheap array query
        (~1 µs a point) where the whole-ring tree has to measure every nearby ring.
        """
        if self._segments is None:
            lines, owner = shapely.get_parts(self.boundaries, return_index=True)
            coords, ring = shapely.get_coordinates(lines, return_index=True)
            same = ring[1:] == ring[:-1]
            segments = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], 1))
            self._segment_owner = owner[ring[:-1][same]].astype(np.int64)
            self._segments = shapely.STRtree(segments)
        return self._segments

    def nearest(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Part-local index of the nearest boundary and the distance, for metric points.

        The same answers as ``tree.query_nearest`` over whole boundaries (first match),
        found among segments: a segment's distance is the one GEOS takes for the nearest
        part of a boundary, and is cheap to measure. Points at the same distance from two
        boundaries (shared edges) are asked to the boundary tree, whose tie order rules.
        """
        points = shapely.points(x, y)
        tree = self.segment_tree()
        assert self._segment_owner is not None
        (inputs, local), distance = tree.query_nearest(points, return_distance=True)
        order = np.argsort(inputs, kind="stable")
        inputs, owner, distance = inputs[order], self._segment_owner[local[order]], distance[order]
        starts = np.flatnonzero(np.r_[True, inputs[1:] != inputs[:-1]])
        found, dist = owner[starts], distance[starts]
        tied = np.minimum.reduceat(owner, starts) != np.maximum.reduceat(owner, starts)
        if tied.any():
            rows = inputs[starts[tied]]
            (ring_in, ring_local), ring_dist = self.tree.query_nearest(
                points[rows], return_distance=True
            )
            _, first = np.unique(ring_in, return_index=True)
            found[tied], dist[tied] = ring_local[first], ring_dist[first]
        return found, dist

    def maybe_near(
        self,
        lon: NDArray[np.float64],
        lat: NDArray[np.float64],
        tolerance_m: float = NEAR_MAX_M,
    ) -> NDArray[np.bool_]:
        """False for points certainly farther than ``tolerance_m`` (<= NEAR_MAX_M) from every
        boundary.

        A lon/lat raster of 1/64° cells (about 1.1 km or more) marks the 3x3 neighbourhood
        of every sample taken each SAMPLE_M along the boundaries: a point within
        NEAR_MAX_M of a boundary is within NEAR_MAX_M + SAMPLE_M / 2 of a sample, less than
        a cell, so it lies in a marked cell. Most points of a national file are kilometres
        from any QPV and skip the metric projection and the segment query.
        """
        if self._near_cells is None:
            self._near_cells = self._raster()
        x0, y0, _, _ = self.territory.bbox
        cx = np.floor((lon - x0) * NEAR_CELLS_PER_DEGREE).astype(np.int64)
        cy = np.floor((lat - y0) * NEAR_CELLS_PER_DEGREE).astype(np.int64)
        ny, nx = self._near_cells.shape
        inside = (cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny)
        out = np.zeros(len(lon), dtype=bool)
        out[inside] = self._near_cells[cy[inside], cx[inside]]
        level = next((lv for lv in FINE_LEVELS if tolerance_m <= lv[2]), None)
        if level is not None and out.any():
            rows = np.flatnonzero(out)
            out[rows] = self._maybe_near_fine(lon[rows], lat[rows], level[0], level[1])
        return out

    def _maybe_near_fine(
        self, lon: NDArray[np.float64], lat: NDArray[np.float64], cells: int, spacing: float
    ) -> NDArray[np.bool_]:
        """The same test on a finer raster (``cells`` per degree), built on first use."""
        marked = self._fine_cells.get(cells)
        if marked is None:
            marked = self._fine_cells[cells] = self._fine_raster(cells, spacing)
        ids = _fine_ids(self.territory, lon, lat, cells)
        at = np.minimum(np.searchsorted(marked, ids), len(marked) - 1)
        hit: NDArray[np.bool_] = marked[at] == ids
        return hit

    def _fine_raster(self, cells: int, spacing: float) -> NDArray[np.int64]:
        samples = shapely.segmentize(shapely.get_parts(self.boundaries), spacing)
        x, y = shapely.get_coordinates(samples).T
        lon, lat = self.territory.from_metric().transform(x, y)
        lon, lat = np.asarray(lon), np.asarray(lat)
        step = 1.0 / cells
        ids = [
            _fine_ids(self.territory, lon + dx * step, lat + dy * step, cells)
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
        ]
        return np.unique(np.concatenate(ids))

    def _raster(self) -> NDArray[np.bool_]:
        samples = shapely.segmentize(shapely.get_parts(self.boundaries), SAMPLE_M)
        x, y = shapely.get_coordinates(samples).T
        lon, lat = self.territory.from_metric().transform(x, y)
        x0, y0, x1, y1 = self.territory.bbox
        nx = int(np.ceil((x1 - x0) * NEAR_CELLS_PER_DEGREE))
        ny = int(np.ceil((y1 - y0) * NEAR_CELLS_PER_DEGREE))
        cells = np.zeros((ny, nx), dtype=bool)
        cx = np.floor((np.asarray(lon) - x0) * NEAR_CELLS_PER_DEGREE).astype(np.int64)
        cy = np.floor((np.asarray(lat) - y0) * NEAR_CELLS_PER_DEGREE).astype(np.int64)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                cells[np.clip(cy + dy, 0, ny - 1), np.clip(cx + dx, 0, nx - 1)] = True
        return cells


def _fine_ids(
    territory: Territory, lon: NDArray[np.float64], lat: NDArray[np.float64], cells: int
) -> NDArray[np.int64]:
    """Cell ids of a fine raster over the territory's box (row-major, with a margin)."""
    x0, y0, x1, _ = territory.bbox
    width = int(np.ceil((x1 - x0) * cells)) + 4
    cx = np.floor((lon - x0) * cells).astype(np.int64) + 2
    cy = np.floor((lat - y0) * cells).astype(np.int64) + 2
    return cy * width + np.clip(cx, 0, width - 1)


@dataclass(slots=True)
class GeographyIndex:
    """Every quartier of one dataset, with exact membership and metric distances."""

    dataset: DatasetInfo
    infos: list[QpvInfo]
    geoms: NDArray[np.object_]
    tree: shapely.STRtree
    grid: CellGrid
    grid_loaded: bool  # False when the grid had to be built (no valid cached payload)
    parts: dict[str, _TerritoryPart]
    communes: CommuneIndex
    by_code: dict[str, int]  # code -> id
    codes: NDArray[np.object_]  # id -> code, for array answers

    @classmethod
    def build(
        cls,
        dataset: DatasetInfo,
        sources: Iterable[QpvSource],
        grid_payload: bytes | None = None,
    ) -> GeographyIndex:
        """Index the quartiers of one dataset, sorted by code so that ids are stable.

        ``grid_payload`` is a cached ``CellGrid.to_bytes()`` of the same polygons in the same
        order; it is checked against the exact geometry and rebuilt if it does not agree.
        """
        ordered = sorted(sources, key=lambda s: s.info.code)
        infos = [s.info for s in ordered]
        geoms = np.array([s.geom for s in ordered], dtype=object)
        shapely.prepare(geoms)
        tree = shapely.STRtree(geoms)
        grid = _cached_grid(geoms, tree, grid_payload)
        territory_keys = np.array([info.territory for info in infos])
        parts = {}
        for territory in TERRITORIES:
            ids = np.flatnonzero(territory_keys == territory.key)
            if ids.size == 0:
                continue
            to_metric = territory.to_metric()
            metric = shapely.transform(
                geoms[ids],
                lambda xy, t=to_metric: np.column_stack(t.transform(xy[:, 0], xy[:, 1])),
            )
            boundaries = shapely.boundary(metric)
            parts[territory.key] = _TerritoryPart(
                territory, ids, boundaries, shapely.STRtree(boundaries)
            )
        return cls(
            dataset=dataset,
            infos=infos,
            geoms=geoms,
            tree=tree,
            grid=grid or CellGrid.build(geoms),
            grid_loaded=grid is not None,
            parts=parts,
            communes=CommuneIndex.build((i.departement, i.communes, i.insee_codes) for i in infos),
            by_code={info.code: i for i, info in enumerate(infos)},
            codes=np.array([info.code for info in infos], dtype=object),
        )

    @property
    def geography(self) -> Geography:
        """The geography of the indexed dataset."""
        return self.dataset.geography

    def covering(self, lon: float, lat: float) -> list[int]:
        """Ids of every quartier covering the point (boundary included), lowest first."""
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return sorted(int(i) for i in hits)

    def tag(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.int32]:
        """For each point, the lowest id of a quartier covering it, or -1 (NaN gives -1)."""
        return self.grid.query(lon, lat)

    def search(
        self,
        commune: str | None = None,
        departement: str | None = None,
        name: str | None = None,
    ) -> list[int]:
        """Ids of the quartiers matching every filter given (accent- and case-insensitive)."""
        ids: list[int] = list(range(len(self.infos)))
        if departement:
            dept = departement.strip().upper().lstrip("0") or "0"
            ids = [i for i in ids if self.infos[i].departement.lstrip("0") == dept]
        if name:
            wanted = fold(name)
            ids = [i for i in ids if wanted in fold(self.infos[i].name)]
        if commune:
            wanted = fold(commune)
            code = commune_code(commune.strip().upper())  # an arrondissement -> its city
            ids = [
                i
                for i in ids
                if code in self.infos[i].insee_codes
                or any(wanted in fold(c) for c in self.infos[i].communes)
            ]
        return list(ids)

    def nearest_boundary(self, lon: float, lat: float, territory: Territory) -> tuple[int, float]:
        """The quartier whose boundary is nearest (in the territory's CRS) and the distance."""
        part = self.parts[territory.key]
        x, y = territory.to_metric().transform(lon, lat)
        point = shapely.Point(x, y)
        local, distance = part.tree.query_nearest(point, return_distance=True)
        return int(part.ids[local[0]]), float(distance[0])

    def lookup(self, lon: float, lat: float, tolerance_m: float) -> PointAnswer:
        """The full answer for one point: status, quartier, nearest boundary and distance."""
        hits = self.covering(lon, lat)
        qpv = self.infos[hits[0]] if hits else None
        territory = TERRITORY_BY_KEY[qpv.territory] if qpv else territory_of_point(lon, lat)
        if territory is None or territory.key not in self.parts:
            return self._answer(hits, territory, None, tolerance_m)
        return self._answer(
            hits, territory, self.nearest_boundary(lon, lat, territory), tolerance_m
        )

    def lookup_many(
        self, lon: NDArray[np.float64], lat: NDArray[np.float64], tolerance_m: float
    ) -> list[PointAnswer]:
        """``lookup`` for arrays of points: the tree queries are made once for all of them."""
        lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        point_i, geom_i = self.tree.query(shapely.points(lon, lat), predicate="intersects")
        order = np.lexsort((geom_i, point_i))
        hits: list[list[int]] = [[] for _ in range(len(lon))]
        for p, g in zip(point_i[order].tolist(), geom_i[order].tolist(), strict=True):
            hits[p].append(g)
        territories = [
            TERRITORY_BY_KEY[self.infos[h[0]].territory] if h else territory_of_point(x, y)
            for h, x, y in zip(hits, lon.tolist(), lat.tolist(), strict=True)
        ]
        nearest: list[tuple[int, float] | None] = [None] * len(lon)
        for key, part in self.parts.items():
            rows = np.array(
                [i for i, t in enumerate(territories) if t is not None and t.key == key],
                dtype=np.int64,
            )
            if rows.size == 0:
                continue
            x, y = part.territory.to_metric().transform(lon[rows], lat[rows])
            local, distance = part.nearest(x, y)
            for r, q, d in zip(
                rows.tolist(), part.ids[local].tolist(), distance.tolist(), strict=True
            ):
                nearest[r] = (q, d)
        return [
            self._answer(h, t, n, tolerance_m)
            for h, t, n in zip(hits, territories, nearest, strict=True)
        ]

    def _answer(
        self,
        hits: list[int],
        territory: Territory | None,
        nearest: tuple[int, float] | None,
        tolerance_m: float,
    ) -> PointAnswer:
        """A point answer from the quartiers covering it and its nearest boundary."""
        qpv = self.infos[hits[0]] if hits else None
        if nearest is None:
            return PointAnswer(
                status=PointStatus.OUT,
                inside=False,
                qpv=None,
                also_in=(),
                nearest=None,
                distance_m=None,
                territory=territory,
                geography=self.geography,
                dataset=self.dataset,
                reason="Outside every territory that has QPV in this geography.",
            )
        nearest_info, distance = self.infos[nearest[0]], nearest[1]
        status, reason = _status(qpv, nearest_info, distance, tolerance_m)
        return PointAnswer(
            status=status,
            inside=qpv is not None,
            qpv=qpv,
            also_in=tuple(self.infos[i] for i in hits[1:]),
            nearest=nearest_info,
            distance_m=distance,
            territory=territory,
            geography=self.geography,
            dataset=self.dataset,
            reason=reason,
        )


def _status(
    qpv: QpvInfo | None, nearest: QpvInfo, distance: float, tolerance_m: float
) -> tuple[PointStatus, str]:
    """The status of a point and why, from the quartier holding it and the nearest boundary."""
    if distance <= tolerance_m:
        side = "inside" if qpv is not None else "outside"
        return PointStatus.NEAR_BOUNDARY, (
            f"{distance:.1f} m from the boundary of {nearest.code}, {side}; within the "
            f"{tolerance_m:g} m tolerance, so the side is not certain."
        )
    if qpv is not None:
        return (
            PointStatus.IN,
            f"Inside {qpv.code} ({qpv.name}), {distance:.0f} m from its boundary.",
        )
    return PointStatus.OUT, (
        f"Outside every QPV; the nearest is {nearest.code} ({nearest.name}) at {distance:.0f} m."
    )


def exact_tag(
    tree: shapely.STRtree, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.int32]:
    """Reference membership through the STRtree: lowest covering id per point, or -1."""
    none = np.iinfo(np.int32).max
    out = np.full(len(lon), none, dtype=np.int32)
    point_i, geom_i = tree.query(shapely.points(lon, lat), predicate="intersects")
    np.minimum.at(out, point_i, geom_i.astype(np.int32))
    out[out == none] = -1
    return out


def _cached_grid(
    geoms: NDArray[np.object_], tree: shapely.STRtree, payload: bytes | None
) -> CellGrid | None:
    """The cached grid if it loads and agrees with the exact test on every polygon's edges."""
    if payload is None:
        return None
    try:
        grid = CellGrid.from_bytes(geoms, payload)
    except (CorruptGrid, ValueError, KeyError, OSError):  # ValueError: numpy's own
        return None
    # A vertex and an inner point of each polygon: cheap, and any drift in order or geometry
    # between the cache and the polygons shows up here.
    probes = np.concatenate(
        [
            shapely.get_coordinates(shapely.point_on_surface(geoms)),
            np.array([shapely.get_coordinates(g)[0] for g in geoms]),
        ]
    )
    expected = exact_tag(tree, probes[:, 0], probes[:, 1])
    return grid if np.array_equal(grid.query(probes[:, 0], probes[:, 1]), expected) else None


@dataclass(frozen=True, slots=True)
class QpvIndex:
    """Every loaded geography; immutable, so a reload swaps a whole new index in."""

    geographies: Mapping[Geography, GeographyIndex]

    def get(self, geography: Geography) -> GeographyIndex:
        """The index of one geography, or GeographyNotLoaded."""
        try:
            return self.geographies[geography]
        except KeyError:
            raise GeographyNotLoaded(
                f"the {geography} geography is not loaded; import it with `qpv data import`",
                geography=str(geography),
            ) from None

    def choose(
        self,
        geography: Geography | None,
        as_of: date | None,
        territory: Territory | None,
        today: date | None = None,
    ) -> GeographyIndex:
        """The geography asked for, else the one in force at ``as_of`` (default today) there."""
        if geography is not None and as_of is not None:
            raise InvalidInput("give either geography or as_of, not both")
        if geography is None:
            on = as_of or today or date.today()
            geography = geography_in_force(on, territory or HEXAGONE)
        return self.get(geography)

    def lookup(
        self,
        lon: float,
        lat: float,
        tolerance_m: float,
        geography: Geography | None = None,
        as_of: date | None = None,
    ) -> PointAnswer:
        """Answer one WGS84 point in the chosen geography."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InvalidInput("coordinates must be finite numbers")
        territory = territory_of_point(lon, lat)
        return self.choose(geography, as_of, territory).lookup(lon, lat, tolerance_m)
