"""Benchmark of the point-in-polygon core (issue 4): CellGrid against the usual tools.

One run, 1 M seeded points (half within ~2 km of real QPVs, half uniform over the
territories: 90 % of them over the hexagone, 10 % over the overseas boxes), on QPV 2024
(and 2015): CellGrid.query, shapely STRtree.query with and without building the Points,
geopandas sjoin, and PostGIS ST_Covers with a GiST index (a throwaway database
``qpv_bench_pip``, dropped at the end). Every method's answer is checked against the exact
reference. Everything runs on one thread (numpy and shapely do not thread here; PostgreSQL
parallel workers are disabled), so points/s are per core: in-process methods are timed in
CPU seconds of this process (steady on a shared machine), PostGIS in wall seconds (the work
is in the server process while the client waits).

    .venv/bin/python bench/bench_pip.py [--points 1000000] [--seed 4] [--repeat 20]
        [--build-repeat 3] [--skip-postgis] [--skip-sjoin] [--all]
        [--dsn "host=127.0.0.1 port=5432 user=postgres"]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
import shapely
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.data.reader import read_qpv_file  # noqa: E402
from app.spatial.grid import CellGrid  # noqa: E402
from app.spatial.territories import TERRITORIES  # noqa: E402

GEODATA = Path(os.environ.get("QPV_DATA_DIR", ROOT.parent / "shared" / "geodata"))
FILES = {
    "2024": GEODATA / "qpv2024" / "qpv2024_wgs84_rounded4.geojson",
    "2015": GEODATA / "qpv2015" / "QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp",
}
DB_NAME = "qpv_bench_pip"

Floats = NDArray[np.float64]
Ids = NDArray[np.int32]


def load_polygons(path: Path) -> NDArray[np.object_]:
    """The polygons of a QPV file as the importer reads them: WGS84, repaired, polygonal."""
    return np.array([row.geom for row in read_qpv_file(path).rows], dtype=object)


def make_points(geoms: NDArray[np.object_], n: int, seed: int) -> tuple[Floats, Floats]:
    """Half within ~2 km of real QPVs, half uniform over the territories (seeded)."""
    rng = np.random.default_rng(seed)
    near = n // 2
    b = shapely.bounds(geoms)
    k = rng.integers(0, len(geoms), near)
    lon = [rng.uniform(b[k, 0] - 0.027, b[k, 2] + 0.027)]
    lat = [rng.uniform(b[k, 1] - 0.018, b[k, 3] + 0.018)]
    far = n - near
    hexa = TERRITORIES[0].bbox
    n_hexa = int(far * 0.9)
    lon.append(rng.uniform(hexa[0], hexa[2], n_hexa))
    lat.append(rng.uniform(hexa[1], hexa[3], n_hexa))
    boxes = np.array([t.bbox for t in TERRITORIES[1:]])
    t = rng.integers(0, len(boxes), far - n_hexa)
    lon.append(rng.uniform(boxes[t, 0], boxes[t, 2]))
    lat.append(rng.uniform(boxes[t, 1], boxes[t, 3]))
    # Shuffled so that no method benefits from spatially sorted input.
    order = rng.permutation(n)
    return np.concatenate(lon)[order], np.concatenate(lat)[order]


def lowest(n: int, pts: NDArray[np.intp], polys: NDArray[np.intp]) -> Ids:
    """Lowest polygon id per point from (point, polygon) pairs, -1 where none."""
    best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, pts, polys)
    best[best == np.iinfo(np.int64).max] = -1
    return best.astype(np.int32)


def best_of(repeat: int, fn: Callable[[], Ids]) -> tuple[float, float, Ids]:
    """Minimum CPU time and minimum wall time over repeats, after one warm-up call.

    CPU time of this process is the per-core figure, and it is much less disturbed than
    wall time by other work on a shared machine; every in-process method is timed so.
    """
    cpu, wall = [], []
    result = fn()
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        result = fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return min(cpu), min(wall), result


@contextmanager
def throwaway_db(dsn: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A fresh PostGIS database, dropped on exit whatever happens."""
    with psycopg.connect(dsn, dbname="postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
    try:
        with psycopg.connect(dsn, dbname=DB_NAME, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
            yield conn
    finally:
        with psycopg.connect(dsn, dbname="postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def postgis(
    conn: psycopg.Connection[tuple[object, ...]],
    geoms: NDArray[np.object_],
    lon: Floats,
    lat: Floats,
) -> list[tuple[str, float, Ids]]:
    """Load polygons and points with COPY, then time two ST_Covers joins.

    (a) GiST on the polygons only, lowest id per point in SQL: the planner loops over the
    points and probes the polygon index; (b) GiST on the points too, pairs fetched and the
    lowest id taken client side: the planner loops over the 1,584 polygons and probes the
    point index, far faster, but the point index must be built first (counted in (b)).
    """
    conn.execute("DROP TABLE IF EXISTS qpv, pts")
    conn.execute("CREATE TABLE qpv (id int PRIMARY KEY, geom geometry(Geometry, 4326))")
    conn.execute("CREATE TABLE pts (id int PRIMARY KEY, geom geometry(Point, 4326))")
    with conn.cursor().copy("COPY qpv (id, geom) FROM STDIN") as cp:
        hexes = shapely.to_wkb(geoms, hex=True, include_srid=False)
        for i, h in enumerate(hexes):
            cp.write_row((i, f"SRID=4326;{h}"))
    buf = io.StringIO()
    for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
        buf.write(f"{i}\tSRID=4326;POINT({x!r} {y!r})\n")
    with conn.cursor().copy("COPY pts (id, geom) FROM STDIN") as cp:
        cp.write(buf.getvalue())
    conn.execute("CREATE INDEX qpv_gist ON qpv USING gist (geom)")
    conn.execute("ANALYZE qpv")
    conn.execute("ANALYZE pts")
    # One core, like every other figure here.
    conn.execute("SET max_parallel_workers_per_gather = 0")
    n = len(lon)
    out: list[tuple[str, float, Ids]] = []

    t = time.perf_counter()
    rows = conn.execute(
        "SELECT p.id, min(q.id) FROM pts p JOIN qpv q ON ST_Covers(q.geom, p.geom) GROUP BY p.id"
    ).fetchall()
    elapsed = time.perf_counter() - t
    res = np.full(n, -1, dtype=np.int32)
    if rows:
        arr = np.array(rows, dtype=np.int64)
        res[arr[:, 0]] = arr[:, 1]
    out.append(("PostGIS ST_Covers join, GiST on polygons", elapsed, res))

    t = time.perf_counter()
    conn.execute("CREATE INDEX pts_gist ON pts USING gist (geom)")
    conn.execute("ANALYZE pts")
    t_index = time.perf_counter() - t
    t = time.perf_counter()
    rows = conn.execute(
        "SELECT p.id, q.id FROM pts p JOIN qpv q ON ST_Covers(q.geom, p.geom)"
    ).fetchall()
    pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
    res = lowest(n, pairs[:, 0], pairs[:, 1])
    elapsed = time.perf_counter() - t
    out.append(
        (
            f"PostGIS ST_Covers join, GiST on polygons and points ({t_index:.1f} s index incl.)",
            elapsed + t_index,
            res,
        )
    )
    return out


Row = tuple[str, float, bool]


def bench_geography(geo: str, path: Path, args: argparse.Namespace) -> list[Row]:
    """Every method on one geography; prints the build figures, returns the timings."""
    n = args.points
    geoms = load_polygons(path)
    lon, lat = make_points(geoms, n, args.seed)
    builds = []
    for _ in range(max(1, args.build_repeat)):
        t = time.process_time()
        grid = CellGrid.build(geoms)
        builds.append(time.process_time() - t)
    # The first build also prepares the polygons (GEOS indexes), as at service start-up.
    build = (
        f"{builds[0]:.2f} s (next: {min(builds[1:]):.2f} s)" if builds[1:] else f"{builds[0]:.2f} s"
    )
    stats = grid.stats()
    print(
        f"\n## QPV {geo}: {len(geoms)} polygons; grid build {build} CPU, "
        f"{grid.nbytes / 2**20:.1f} MiB ({stats['cells']:,} cells, {stats['leaves']:,} "
        "multi-candidate leaves)"
    )
    t_grid, wall_grid, got = best_of(args.repeat, lambda: grid.query(lon, lat))
    print(f"CellGrid.query wall time, best of {args.repeat}: {wall_grid:.4f} s")

    tree = shapely.STRtree(geoms)
    shapely.prepare(geoms)
    t = time.process_time()
    pts = shapely.points(lon, lat)
    t_points = time.process_time() - t

    def strtree() -> Ids:
        pi, gi = tree.query(pts, predicate="intersects")
        return lowest(n, pi, gi)

    t_tree, _wall, ref = best_of(3, strtree)
    print(f"{(ref >= 0).mean():.1%} of the points are in a QPV")
    rows: list[Row] = [
        ("CellGrid.query (coordinate arrays)", t_grid, bool((got == ref).all())),
        ("shapely STRtree.query, Points prebuilt", t_tree, True),
        ("shapely STRtree.query + Point construction", t_tree + t_points, True),
    ]
    if not args.skip_sjoin and (geo == "2024" or args.all):
        import geopandas as gpd

        left = gpd.GeoDataFrame({"pid": np.arange(n)}, geometry=pts, crs=4326)
        right = gpd.GeoDataFrame({"qid": np.arange(len(geoms))}, geometry=geoms, crs=4326)
        t = time.process_time()
        joined = gpd.sjoin(left, right, how="inner", predicate="intersects")
        t_sjoin = time.process_time() - t
        res = lowest(n, joined["pid"].to_numpy(), joined["qid"].to_numpy())
        rows.append(
            (
                "geopandas sjoin (intersects), GeoDataFrames prebuilt",
                t_sjoin,
                bool((res == ref).all()),
            )
        )
    if not args.skip_postgis and (geo == "2024" or args.all):
        with throwaway_db(args.dsn) as conn:
            for name, secs, res in postgis(conn, geoms, lon, lat):
                rows.append((name, secs, bool((res == ref).all())))
    return rows


def run(args: argparse.Namespace) -> None:
    """Run every method on every geography and print the figures."""
    n = args.points
    print(
        f"# Point-in-polygon, {n:,} points, seed {args.seed}, CellGrid best of {args.repeat}, "
        f"{args.build_repeat} builds; load average at start "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    failed = False
    for geo, path in FILES.items():
        rows = bench_geography(geo, path, args)
        t_grid = rows[0][1]
        print("\n| method | time (s) | M points/s per core | CellGrid is N x faster | exact |")
        print("|---|---:|---:|---:|---|")
        for name, secs, ok in rows:
            print(
                f"| {name} | {secs:.3f} | {n / secs / 1e6:.2f} | {secs / t_grid:.1f} | "
                f"{'yes' if ok else 'NO'} |"
            )
        failed = failed or not rows[0][2]
    if failed:
        raise SystemExit("CellGrid disagrees with the exact reference")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--build-repeat", type=int, default=3)
    parser.add_argument("--skip-postgis", action="store_true")
    parser.add_argument("--skip-sjoin", action="store_true")
    parser.add_argument("--all", action="store_true", help="sjoin and PostGIS on 2015 too")
    parser.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
