"""Fast point-in-polygon membership over coordinate arrays: a sparse hierarchical cell grid.

The plane (lon/lat degrees) is cut into 1° root cells, and every root cell that a polygon
boundary crosses is refined into a block of 2^b x 2^b children, level after level, down to
cells of 2^-F degree (F = sum of the level bits). Each cell holds one int32 entry:

- ``-1``                      out of every polygon;
- ``0 <= e < n``              fully covered by polygon ``e`` (lowest covering id);
- ``e >= n``                  refined: its children block starts at ``cells[e - n]``;
- ``-1 - n <= e <= -2``       finest-level boundary cell of polygon ``-2 - e`` only, out
                              otherwise: an exact test decides;
- ``e < -1 - n``              finest-level boundary cell with several candidates (or a
                              covering fallback): leaf ``-2 - n - e`` of a CSR table.

The root table is kept apart and holds block starts only: uniform root cells point to a
shared constant block, so the first descent is one gather for every point, with no
compaction. A query turns coordinates into integer fine-cell coordinates once, descends
the levels with one gather per level on the points still unresolved, and runs
``shapely.intersects_xy`` on prepared polygons only for the few points that land in a
boundary cell, so the answer is GEOS's own, bit for bit. Correctness of the "fully in" and
"fully out" cells does not depend on floating-point luck: a cell is only called uniform
when no polygon boundary comes within ``EPS_DEG`` of it (a conservative rasterisation of the
edges), which is far more than the rounding error of the coordinate -> cell computation.
"""

from __future__ import annotations

import ctypes
import io
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from app.errors import CorruptGrid, InvalidGeometry, InvalidInput

__all__ = ["DEFAULT_LEVELS", "FORMAT", "CellGrid", "tag_points"]

# Bits per axis added at each level below the 1° root: 1° -> 1/64° (~1.7 km) -> 1/512°
# (~220 m) -> 1/2048° (~54 m) -> 1/4096° -> 1/8192° (~14 m x 9 m in the hexagone).
# Wide blocks high up keep the descent short for most points; binary splits near the
# finest levels keep memory proportional to the boundary length (blocks of 4 entries).
DEFAULT_LEVELS: tuple[int, ...] = (6, 3, 2, 1, 1)

# A cell is uniform only if no boundary comes within this distance (degrees, ~0.1 mm):
# many orders of magnitude above the rounding error of (lon - x0) * 2^F (~1e-13 degree).
EPS_DEG = 1e-9

# Edge pieces rasterised at once during a build.
RASTER_BATCH = 1 << 17

# (child cell, polygon) pairs examined at once during a build, at most about.
PAIR_BATCH = 1 << 18

# Points are processed in chunks so that the temporaries of every numpy pass stay in the
# L2 cache (4 MiB per core here): 1 M points take ~22 ms in chunks of 2^16, ~27 ms in one.
CHUNK = 1 << 16

# Version of the to_arrays() layout (and of the cell encoding and EPS_DEG behind it).
FORMAT = 1

_I32 = np.int32
_I64 = np.int64


@dataclass(slots=True)
class _Level:
    """Cells of one level waiting for their entry: coordinates, slot, cover, candidates."""

    cx: NDArray[np.int64]
    cy: NDArray[np.int64]
    slot: NDArray[np.int64]  # where the entry goes in the cells array
    cover: NDArray[np.int64]  # lowest id of a polygon covering the whole cell, or n
    cand_cell: NDArray[np.int64]  # (cell, polygon) pairs: polygon boundary near the cell,
    cand_poly: NDArray[np.int64]  # polygon id < cover; sorted by cell then polygon


@dataclass(slots=True)
class _Build:
    """Everything the level builders share: polygons, edges in fine-cell units, frame."""

    geoms: NDArray[np.object_]
    ua: NDArray[np.float64]  # edge start / end, (coordinate - origin) * 2^fine
    va: NDArray[np.float64]
    ub: NDArray[np.float64]
    vb: NDArray[np.float64]
    epoly: NDArray[np.int64]  # polygon id of each edge
    bx0: NDArray[np.float64]  # polygon bounding boxes, same units
    by0: NDArray[np.float64]
    bx1: NDArray[np.float64]
    by1: NDArray[np.float64]
    eps: float  # EPS_DEG in fine-cell units
    x0: int
    y0: int
    nx0: int
    ny0: int
    fine: int


class CellGrid:
    """Membership index over polygons in lon/lat: cells fully inside one polygon, fully outside all, or on a boundary."""  # noqa: E501

    def __init__(
        self,
        geoms: NDArray[np.object_],
        root: NDArray[np.int32],
        cells: NDArray[np.int32],
        leaf_ptr: NDArray[np.int32],
        leaf_ids: NDArray[np.int32],
        *,
        x0: int,
        y0: int,
        nx0: int,
        ny0: int,
        levels: tuple[int, ...],
    ) -> None:
        self._geoms = geoms
        self._root = root
        self._cells = cells
        self._leaf_ptr = leaf_ptr
        self._leaf_ids = leaf_ids
        self._x0 = x0
        self._y0 = y0
        self._nx0 = nx0
        self._ny0 = ny0
        self._levels = levels
        self._fine = sum(levels)
        self._n = len(geoms)

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, geoms: NDArray[Any], levels: tuple[int, ...] = DEFAULT_LEVELS) -> CellGrid:
        """Index polygons (1-D object array, lon/lat, valid); array position = polygon id."""
        geoms = np.asarray(geoms, dtype=object)
        if geoms.ndim != 1:
            raise InvalidGeometry("geoms must be a 1-D array of polygons")
        if not levels or min(levels) < 1:
            raise InvalidInput("levels must be one or more positive bit counts")
        n = len(geoms)
        fine = sum(levels)
        scale = float(2**fine)
        geoms = _prepared(geoms)

        ax, ay, bx, by, epoly = _edges(geoms)
        if len(epoly) == 0:
            # Nothing to find: nine root cells sharing one block of "out".
            cells = np.full(1 << (2 * levels[0]), -1, dtype=_I32)
            empty = np.zeros(9, dtype=_I32)
            return cls(
                geoms,
                empty,
                cells,
                empty[:1],
                empty[:0],
                x0=-1,
                y0=-1,
                nx0=3,
                ny0=3,
                levels=levels,
            )
        # Two empty margin columns/rows on every side: clipped, NaN and infinite
        # coordinates are sent there, so they need no separate test.
        x0 = math.floor(min(ax.min(), bx.min())) - 2
        y0 = math.floor(min(ay.min(), by.min())) - 2
        nx0 = math.floor(max(ax.max(), bx.max())) - x0 + 3
        ny0 = math.floor(max(ay.max(), by.max())) - y0 + 3
        if max(nx0, ny0) * scale >= 2**31:
            raise InvalidGeometry("extent too large for int32 fine-cell coordinates")
        if (nx0 << fine) * (ny0 << fine) * max(n, 1) >= 2**62:
            raise InvalidGeometry("too many polygons for int64 (cell, polygon) keys at this extent")
        # Edges in fine-cell units: exact scaling by a power of two, one rounding.
        ua, va = (ax - x0) * scale, (ay - y0) * scale
        ub, vb = (bx - x0) * scale, (by - y0) * scale
        eps = EPS_DEG * scale

        bounds = shapely.bounds(geoms)
        bx0, bx1 = (bounds[:, 0] - x0) * scale, (bounds[:, 2] - x0) * scale
        by0, by1 = (bounds[:, 1] - y0) * scale, (bounds[:, 3] - y0) * scale
        ctx = _Build(geoms, ua, va, ub, vb, epoly, bx0, by0, bx1, by1, eps, x0, y0, nx0, ny0, fine)
        del ua, va, ub, vb, ax, ay, bx, by, epoly
        cells, ptr_arr, ids_arr = _build_cells(ctx, levels)
        del ctx
        _release_free_memory()
        # The root table is read apart, as block starts (its entries are all pointers).
        root = cells[: nx0 * ny0] - np.int32(n)
        return cls(
            geoms, root, cells, ptr_arr, ids_arr, x0=x0, y0=y0, nx0=nx0, ny0=ny0, levels=levels
        )

    # ------------------------------------------------------------------ query
    def query(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int32]:
        """Id of the lowest-numbered polygon covering each point, -1 if none (NaN/inf -> -1)."""
        x = np.ascontiguousarray(lon, dtype=np.float64)
        y = np.ascontiguousarray(lat, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1:
            raise InvalidInput("lon and lat must be 1-D arrays of equal length")
        out = np.empty(len(x), dtype=_I32)
        for start in range(0, len(x), CHUNK):
            stop = min(start + CHUNK, len(x))
            out[start:stop] = self._descend(x[start:stop], y[start:stop])
        # Exact tests in one go for all chunks: their fixed costs (sorting, shapely call)
        # would otherwise be paid per chunk.
        leaf = np.flatnonzero(out < -1)
        if len(leaf):
            out[leaf] = self._exact(x.take(leaf), y.take(leaf), out.take(leaf))
        return out

    def _descend(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int32]:
        """Entries of the deepest cells holding the points (leaves left for _exact)."""
        fine = self._fine
        scale = float(2**fine)
        ix = self._fine_coord(x, scale, self._x0, self._nx0)
        iy = self._fine_coord(y, scale, self._y0, self._ny0)
        # Root cell, then the first level for every point (all root cells have a block),
        # then one gather per level for the points still in refined cells.
        r = ix >> fine
        r *= self._ny0
        r += iy >> fine
        base = self._root.take(r)
        bits = self._levels[0]
        sh = fine - bits
        mask = (1 << bits) - 1
        lx = ix >> sh
        lx &= mask
        lx <<= bits
        ly = iy >> sh
        ly &= mask
        lx |= ly
        base += lx
        cells = self._cells
        e = cells.take(base)
        n = self._n
        sel = np.flatnonzero(e >= n)
        for bits in self._levels[1:]:
            if not len(sel):
                break
            sh -= bits
            mask = (1 << bits) - 1
            sx = ix.take(sel)
            sy = iy.take(sel)
            if sh:
                sx >>= sh
                sy >>= sh
            sx &= mask
            sx <<= bits
            sy &= mask
            sx |= sy
            sx += e.take(sel)
            sx -= n
            sub = cells.take(sx)
            e[sel] = sub
            sel = sel[sub >= n]
        return e

    @staticmethod
    def _fine_coord(v: NDArray[np.float64], scale: float, v0: int, nv: int) -> NDArray[np.int32]:
        # (v - v0) * 2^F with a single rounding; out of range, fmax/fmin send NaN and -inf
        # to the low margin and +inf/huge values to the high margin, so the cast is defined.
        t = v * scale
        t -= v0 * scale
        top = nv * scale - 1.0
        # Two read-only reductions are cheaper than clamping every chunk; NaN fails both.
        if not (t.min() >= 0.0 and t.max() <= top):
            np.fmax(t, 0.0, out=t)
            np.fmin(t, top, out=t)
        return t.astype(_I32)

    def _exact(
        self, x: NDArray[np.float64], y: NDArray[np.float64], e: NDArray[np.int32]
    ) -> NDArray[np.int32]:
        n = self._n
        single = e >= -1 - n
        res = np.full(len(e), -1, dtype=_I32)
        pts_s = np.flatnonzero(single)
        poly_s = (-2 - e[pts_s]).astype(_I64)
        pts_m = np.flatnonzero(~single)
        if len(pts_m):
            leaf = (-2 - n - e[pts_m]).astype(_I64)
            lo = self._leaf_ptr[leaf].astype(_I64)
            hi = self._leaf_ptr[leaf + 1].astype(_I64)
            res[pts_m] = self._leaf_ids[hi - 1]  # fallback when no candidate matches
            cnt = hi - lo - 1
            rep = np.repeat(np.arange(len(pts_m)), cnt)
            off = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            pts = np.concatenate([pts_s, pts_m[rep]])
            poly = np.concatenate([poly_s, self._leaf_ids[lo[rep] + off].astype(_I64)])
        else:
            pts, poly = pts_s, poly_s
        # Grouping the tests by polygon keeps each prepared geometry's index hot in cache.
        order = np.argsort(poly, kind="stable")
        pts, poly = pts[order], poly[order]
        hit = shapely.intersects_xy(self._geoms[poly], x[pts], y[pts])
        hp, hpoly = pts[hit], poly[hit]
        # Candidates are below the fallback, so the lowest hit wins.
        if len(hp):
            best = np.full(len(e), np.iinfo(_I32).max, dtype=_I64)
            np.minimum.at(best, hp, hpoly)
            won = best < np.iinfo(_I32).max
            res[won] = best[won]
        return res

    # ------------------------------------------------------------------ persistence
    def to_arrays(self) -> dict[str, NDArray[Any]]:
        """The structure as plain arrays (for numpy.savez), without the polygons."""
        meta = [FORMAT, self._x0, self._y0, self._nx0, self._ny0, self._n, *self._levels]
        return {
            "meta": np.asarray(meta, dtype=_I64),
            "root": self._root,
            "cells": self._cells,
            "leaf_ptr": self._leaf_ptr,
            "leaf_ids": self._leaf_ids,
        }

    @classmethod
    def from_arrays(cls, geoms: NDArray[Any], arrays: Mapping[str, NDArray[Any]]) -> CellGrid:
        """Rebuild from to_arrays() output and the very polygons it was built from, in order.

        Loading takes milliseconds where building takes a second or two: a service may cache
        the arrays keyed by its dataset's checksum. Only the polygon count is checked here.
        """
        meta = [int(v) for v in np.asarray(arrays["meta"])]
        if meta[0] != FORMAT:
            raise CorruptGrid(f"unknown CellGrid format {meta[0]}")
        x0, y0, nx0, ny0, n = meta[1:6]
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms) != n:
            raise CorruptGrid(f"these arrays index {n} polygons, not {len(geoms)}")
        geoms = _prepared(geoms)
        return cls(
            geoms,
            np.asarray(arrays["root"], dtype=_I32),
            np.asarray(arrays["cells"], dtype=_I32),
            np.asarray(arrays["leaf_ptr"], dtype=_I32),
            np.asarray(arrays["leaf_ids"], dtype=_I32),
            x0=x0,
            y0=y0,
            nx0=nx0,
            ny0=ny0,
            levels=tuple(meta[6:]),
        )

    def to_bytes(self) -> bytes:
        """The structure serialised as a compressed npz (for a database column)."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **self.to_arrays())  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, geoms: NDArray[Any], payload: bytes) -> CellGrid:
        """Rebuild from to_bytes() output and the very polygons it was built from, in order."""
        with np.load(io.BytesIO(payload)) as arrays:
            return cls.from_arrays(geoms, {name: arrays[name] for name in arrays.files})

    # ------------------------------------------------------------------ misc
    @property
    def nbytes(self) -> int:
        """Memory held by the structure's arrays (the polygons themselves are shared)."""
        return int(
            self._root.nbytes
            + self._cells.nbytes
            + self._leaf_ptr.nbytes
            + self._leaf_ids.nbytes
            + self._geoms.nbytes
        )

    def stats(self) -> dict[str, int]:
        """Sizes of the structure, for benchmarks and logs."""
        return {
            "polygons": self._n,
            "cells": int(self._cells.size),
            "leaves": int(self._leaf_ptr.size - 1),
            "leaf_ids": int(self._leaf_ids.size),
            "nbytes": self.nbytes,
        }


def tag_points(lon: ArrayLike, lat: ArrayLike, geoms: NDArray[Any] | CellGrid) -> NDArray[np.int32]:
    """Polygon id covering each lon/lat point (lowest on overlaps, -1 if none)."""
    # Building takes a second or two: callers tagging many chunks pass a built CellGrid.
    grid = geoms if isinstance(geoms, CellGrid) else CellGrid.build(geoms)
    return grid.query(lon, lat)


# ---------------------------------------------------------------------- build helpers
def _build_cells(
    ctx: _Build, levels: tuple[int, ...]
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Cells array (root table first), leaf pointers and leaf ids, level by level."""
    n, fine, nx0, ny0 = len(ctx.geoms), ctx.fine, ctx.nx0, ctx.ny0
    chunks: list[NDArray[np.int32]] = []
    next_slot = nx0 * ny0
    leaf_ptr, leaf_ids = np.zeros(1, _I32), np.zeros(0, _I32)

    level = _root_level(ctx)
    root = np.full(nx0 * ny0, -1, dtype=_I32)
    chunks.append(root)
    for depth in range(len(levels) + 1):
        entry = np.where(level.cover < n, level.cover, -1)
        has = np.zeros(len(level.slot), dtype=bool)
        has[level.cand_cell] = True
        if depth == len(levels):
            leaf_ptr, leaf_ids = _boundary_leaves(level, n, entry, has)
            _write(chunks, level.slot, entry)
            break
        # Refine every cell with candidates into a block of children.
        bits = levels[depth]
        refine = np.flatnonzero(has)
        block = 1 << (2 * bits)
        starts_abs = next_slot + block * np.arange(len(refine), dtype=_I64)
        entry[refine] = n + starts_abs
        next_slot += block * len(refine)
        new_chunks = [np.full(block * len(refine), -1, dtype=_I32)]
        if depth == 0:
            # Every root cell points to a block, so that the first descent needs no
            # compaction: uniform root cells share one constant block per value.
            uni = np.flatnonzero(~has)
            vals, inv = np.unique(entry[uni], return_inverse=True)
            entry[uni] = n + next_slot + block * inv
            next_slot += block * len(vals)
            new_chunks.append(np.repeat(vals, block).astype(_I32))
        _write(chunks, level.slot, entry)
        chunks.extend(new_chunks)
        sh = fine - sum(levels[: depth + 1])
        level = _child_level(ctx, level, refine, starts_abs, bits, sh)
    if next_slot + n >= 2**31:
        raise InvalidGeometry("grid too large for int32 entries")
    return np.concatenate(chunks), leaf_ptr, leaf_ids


def _boundary_leaves(
    level: _Level, n: int, entry: NDArray[np.int64], has: NDArray[np.bool_]
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Last level: inline a single candidate into ``entry``, list several as a leaf.

    Returns the leaf pointers and the leaf ids: the candidates of each leaf, then its
    fallback (the covering polygon, or -1).
    """
    counts = np.bincount(level.cand_cell, minlength=len(level.slot))
    single = (counts == 1) & (level.cover >= n)
    first = np.cumsum(counts) - counts  # cand_cell is sorted
    idx = np.flatnonzero(single)
    entry[idx] = -2 - level.cand_poly[first[idx]]
    multi = np.flatnonzero(has & ~single)
    if len(multi) == 0:
        return np.zeros(1, _I32), np.zeros(0, _I32)
    cnt = counts[multi]
    ids = level.cand_poly[np.isin(level.cand_cell, multi)]
    starts = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    fall = np.where(level.cover[multi] < n, level.cover[multi], -1)
    entry[multi] = -2 - n - np.arange(len(multi))
    leaf_ptr = np.concatenate([[0], np.cumsum(cnt + 1)]).astype(_I32)
    return leaf_ptr, np.insert(ids, starts + cnt, fall).astype(_I32)


def _release_free_memory() -> None:
    """Hand the build's freed temporaries back to the OS (glibc only; a no-op elsewhere).

    A build allocates a few hundred MB of short-lived arrays; glibc keeps most of the freed
    heap mapped, so a service would carry it as resident memory for ever after.
    """
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # musl or another libc: nothing to do
        pass


def _prepared(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Our own array of the same geometry objects, prepared, with their indexes built.

    Prepared geometries make the exact tests O(log vertices). GEOS builds a prepared
    polygon's point locator lazily, on its first test: doing that here, once per polygon,
    means concurrent queries from several threads only ever read it.
    """
    geoms = geoms.copy()
    shapely.prepare(geoms)
    if len(geoms):
        b = shapely.bounds(geoms)
        ok = ~np.isnan(b[:, 0])
        shapely.intersects_xy(geoms[ok], b[ok, 0], b[ok, 1])
    return geoms


def _edges(
    geoms: NDArray[np.object_],
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
]:
    """Every ring segment (ax, ay) -> (bx, by) with the id of its polygon."""
    parts, part_poly = shapely.get_parts(geoms, return_index=True)
    poly_mask = shapely.get_type_id(parts) == 3  # polygons only; make_valid may leave lines
    if not poly_mask.all():
        raise InvalidGeometry("geometries must be Polygon or MultiPolygon")
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same = coord_ring[1:] == coord_ring[:-1]
    a = coords[:-1][same]
    b = coords[1:][same]
    epoly = np.asarray(part_poly, dtype=_I64)[np.asarray(ring_part)[coord_ring[:-1][same]]]
    return a[:, 0].copy(), a[:, 1].copy(), b[:, 0].copy(), b[:, 1].copy(), epoly


def _raster(
    ua: NDArray[np.float64],
    va: NDArray[np.float64],
    ub: NDArray[np.float64],
    vb: NDArray[np.float64],
    epoly: NDArray[np.int64],
    eps: float,
    sh: int,
    ny: int,
    npoly: int,
) -> NDArray[np.int64]:
    """Sorted unique keys (cell * n_poly_slots + polygon) of cells within eps of an edge.

    Conservative: edges are cut into pieces no longer than half a cell along each axis, so
    the eps-grown bounding box of a piece spans at most 2 x 2 cells, all of which are
    marked; any cell that the boundary comes within eps of is among them.
    """
    inv = 1.0 / float(2**sh)  # a power of two: exact
    du, dv = ub - ua, vb - va
    npc = np.maximum(np.ceil(np.maximum(np.abs(du), np.abs(dv)) * (2 * inv)), 1).astype(_I64)
    # Edges in batches of about RASTER_BATCH pieces: the temporaries stay small (peak
    # memory of a build, and fresh pages are slow to fault in on a young VM).
    ends = np.searchsorted(
        np.cumsum(npc), np.arange(1, int(npc.sum()) // RASTER_BATCH + 1) * RASTER_BATCH
    )
    bounds = np.unique(np.concatenate(([0], ends, [len(npc)])))
    keys = [
        _raster_batch(ua[a:b], va[a:b], du[a:b], dv[a:b], npc[a:b], epoly[a:b], eps, inv, ny, npoly)
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    ]
    return _sorted_unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=_I64)


def _raster_batch(
    ua: NDArray[np.float64],
    va: NDArray[np.float64],
    du: NDArray[np.float64],
    dv: NDArray[np.float64],
    npc: NDArray[np.int64],
    epoly: NDArray[np.int64],
    eps: float,
    inv: float,
    ny: int,
    npoly: int,
) -> NDArray[np.int64]:
    """_raster for a batch of edges, each cut into npc pieces."""
    # Cut points of every edge, both ends included; piece k runs from point k to k + 1.
    cnt = npc + 1
    seg = np.repeat(np.arange(len(npc)), cnt)
    first = np.cumsum(cnt) - cnt
    t = np.arange(len(seg), dtype=np.float64)
    t -= first[seg]
    t /= npc[seg]
    x = du[seg]
    x *= t
    x += ua[seg]
    y = dv[seg]
    y *= t
    y += va[seg]
    # Cell range of each cut point grown by eps; a piece spans its two ends' ranges.
    xlo = np.floor((x - eps) * inv).astype(_I64)
    xhi = np.floor((x + eps) * inv).astype(_I64)
    ylo = np.floor((y - eps) * inv).astype(_I64)
    yhi = np.floor((y + eps) * inv).astype(_I64)
    # The pair (last point of an edge, first of the next) is not a piece: it takes the
    # first point's range alone.
    last = first[1:] - 1
    nxt = [a[1:].copy() for a in (xlo, xhi, ylo, yhi)]
    for a, b in zip((xlo, xhi, ylo, yhi), nxt, strict=True):
        b[last] = a[last]
    lox = np.minimum(xlo[:-1], nxt[0])
    hix = np.maximum(xhi[:-1], nxt[1])
    loy = np.minimum(ylo[:-1], nxt[2])
    hiy = np.maximum(yhi[:-1], nxt[3])
    seg = seg[:-1]
    p = epoly[seg]
    # Only the distinct corners of each 1x1, 2x1, 1x2 or 2x2 range.
    kx, ky = hix != lox, hiy != loy
    keys = np.concatenate(
        [
            (lox * ny + loy) * npoly + p,
            ((hix * ny + loy) * npoly + p)[kx],
            ((lox * ny + hiy) * npoly + p)[ky],
            ((hix * ny + hiy) * npoly + p)[kx & ky],
        ]
    )
    return _sorted_unique(keys)


def _sorted_unique(keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """np.unique by sorting (numpy 2's hash-based unique is slower on these sizes)."""
    keys = np.sort(keys)
    if len(keys):
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys


def _centres_inside(
    ctx: _Build, poly: NDArray[np.int64], cx: NDArray[np.int64], cy: NDArray[np.int64], sh: int
) -> NDArray[np.bool_]:
    """Whether each cell centre is covered by the paired polygon (exact, GEOS)."""
    res = np.empty(len(poly), dtype=bool)
    if not len(poly):
        return res
    w = 2.0 ** (sh - ctx.fine)
    px = ctx.x0 + (cx + 0.5) * w
    py = ctx.y0 + (cy + 0.5) * w
    order = np.argsort(poly, kind="stable")
    res[order] = shapely.intersects_xy(ctx.geoms[poly[order]], px[order], py[order])
    return res


def _root_level(ctx: _Build) -> _Level:
    """Every root cell, with its covering polygon and its boundary candidates."""
    geoms, nx0, ny0, x0, y0 = ctx.geoms, ctx.nx0, ctx.ny0, ctx.x0, ctx.y0
    n = npoly = len(geoms)
    marked = _raster(ctx.ua, ctx.va, ctx.ub, ctx.vb, ctx.epoly, ctx.eps, ctx.fine, ny0, npoly)
    mcell, mpoly = marked // npoly, marked % npoly
    ncell = nx0 * ny0
    cid = np.arange(ncell, dtype=_I64)
    cx, cy = cid // ny0, cid % ny0
    # Root cells that a polygon covers without its boundary coming near: centre test.
    tree = shapely.STRtree(geoms)
    centres = shapely.points(x0 + cx + 0.5, y0 + cy + 0.5)
    qc, qp = tree.query(centres, predicate="intersects")
    qc, qp = np.asarray(qc, _I64), np.asarray(qp, _I64)
    near = _member(qc * npoly + qp, marked)
    cover = np.full(ncell, n, dtype=_I64)
    np.minimum.at(cover, qc[~near], qp[~near])
    keep = mpoly < cover[mcell]
    return _Level(cx, cy, cid, cover, mcell[keep], mpoly[keep])


def _child_level(
    ctx: _Build,
    parent: _Level,
    refine: NDArray[np.int64],
    starts_abs: NDArray[np.int64],
    bits: int,
    sh: int,
) -> _Level:
    """Children of the refined parent cells, with their covers and remaining candidates."""
    ny = ctx.ny0 << (ctx.fine - sh)
    side = 1 << bits
    block = side * side
    npar = len(refine)
    # Children of every refined parent, in block order (local index = i << bits | j).
    loc = np.arange(block, dtype=_I64)
    li, lj = loc >> bits, loc & (side - 1)
    cx = ((parent.cx[refine] << bits)[:, None] + li[None, :]).ravel()
    cy = ((parent.cy[refine] << bits)[:, None] + lj[None, :]).ravel()
    slot = (starts_abs[:, None] + loc[None, :]).ravel()
    cover = np.repeat(parent.cover[refine], block)
    # Which (child, polygon) pairs still have the boundary nearby; only edges of the
    # parents' candidate polygons matter at this level.
    npoly = len(ctx.geoms)
    wanted = np.zeros(npoly, dtype=bool)
    wanted[parent.cand_poly] = True
    em = wanted[ctx.epoly]
    marked = _raster(
        ctx.ua[em], ctx.va[em], ctx.ub[em], ctx.vb[em], ctx.epoly[em], ctx.eps, sh, ny, npoly
    )
    rank = np.full(len(parent.slot), -1, dtype=_I64)
    rank[refine] = np.arange(npar)
    # Parent candidates in batches, so that the (child, polygon) pairs stay small.
    near_cell: list[NDArray[np.int64]] = []
    near_poly: list[NDArray[np.int64]] = []
    step = max(1, PAIR_BATCH // block)
    for a in range(0, len(parent.cand_cell), step):
        pc, pp = _child_pairs(ctx, parent, rank, a, a + step, bits, sh)
        near = _member((cx[pc] * ny + cy[pc]) * npoly + pp, marked)
        near_cell.append(pc[near])
        near_poly.append(pp[near])
        # Pairs away from the boundary: the polygon covers the whole child or none of it.
        far = np.flatnonzero(~near)
        pc, pp = pc[far], pp[far]
        inside = _centres_inside(ctx, pp, cx[pc], cy[pc], sh)
        np.minimum.at(cover, pc[inside], pp[inside])
    cand_cell = np.concatenate(near_cell) if near_cell else np.zeros(0, _I64)
    cand_poly = np.concatenate(near_poly) if near_poly else np.zeros(0, _I64)
    keep = cand_poly < cover[cand_cell]
    cand_cell, cand_poly = cand_cell[keep], cand_poly[keep]
    order = np.lexsort((cand_poly, cand_cell))
    return _Level(cx, cy, slot, cover, cand_cell[order], cand_poly[order])


def _child_pairs(
    ctx: _Build,
    parent: _Level,
    rank: NDArray[np.int64],
    start: int,
    stop: int,
    bits: int,
    sh: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(child, polygon) pairs for parent candidates start:stop.

    Each parent candidate polygon is handed only to the children that its bounding box
    (grown by eps) touches: the others are neither covered nor crossed by it.
    """
    side = 1 << bits
    qc = parent.cand_cell[start:stop]
    qp = parent.cand_poly[start:stop]
    qr = rank[qc]
    w = float(2**sh)
    bx = parent.cx[qc] << bits
    by = parent.cy[qc] << bits
    i0 = np.maximum(np.floor((ctx.bx0[qp] - ctx.eps) / w).astype(_I64) - bx, 0)
    i1 = np.minimum(np.floor((ctx.bx1[qp] + ctx.eps) / w).astype(_I64) - bx, side - 1)
    j0 = np.maximum(np.floor((ctx.by0[qp] - ctx.eps) / w).astype(_I64) - by, 0)
    j1 = np.minimum(np.floor((ctx.by1[qp] + ctx.eps) / w).astype(_I64) - by, side - 1)
    nj = np.maximum(j1 - j0 + 1, 0)
    cnt = np.maximum(i1 - i0 + 1, 0) * nj
    q = np.repeat(np.arange(len(qp)), cnt)
    k = np.arange(len(q), dtype=_I64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    njq = nj[q]
    pc = (qr[q] << (2 * bits)) + ((i0[q] + k // njq) << bits) + j0[q] + k % njq
    return pc, qp[q]


def _write(chunks: list[NDArray[np.int32]], slot: NDArray[np.int64], entry: NDArray[Any]) -> None:
    """Write entries at absolute slots into the list of consecutive chunks."""
    if not len(slot):
        return
    bounds = np.cumsum([0] + [len(c) for c in chunks])
    which = np.searchsorted(bounds, slot, side="right") - 1
    for k in np.unique(which):
        m = which == k
        chunks[int(k)][slot[m] - bounds[k]] = entry[m]


def _member(keys: NDArray[np.int64], sorted_keys: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Whether each key is in a sorted unique key array."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    pos[pos == len(sorted_keys)] = 0
    found: NDArray[np.bool_] = sorted_keys[pos] == keys
    return found
