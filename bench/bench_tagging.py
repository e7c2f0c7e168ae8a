"""Throughput of ``tag_points`` (codes and statuses for coordinate arrays), after ``make data``.

``python -m bench.bench_tagging``: 1 M seeded points around real QPVs (2024), answered as a
batch would: codes and in/out; with near_boundary (15 m); and with full metric distances
(on 100,000 points: that path costs ~15 µs a point).
"""

from __future__ import annotations

import time

import numpy as np
import shapely

from app.db.loader import load_index
from app.db.session import make_engine
from app.settings import Settings
from app.spatial.geography import Geography
from app.spatial.tagging import tag_points


def main() -> None:
    """Print seconds and points/s for each way of tagging."""
    index = load_index(make_engine(Settings().database_url))
    geo = index.get(Geography.QPV2024)
    rng = np.random.default_rng(1)
    centres = shapely.get_coordinates(shapely.centroid(geo.geoms))
    n = 1_000_000
    picks = centres[rng.integers(0, len(centres), n)]
    lon = picks[:, 0] + rng.normal(0, 0.01, n)
    lat = picks[:, 1] + rng.normal(0, 0.007, n)
    uniform_lon = rng.uniform(-5.5, 9.8, n)  # a national file: most points far from any QPV
    uniform_lat = rng.uniform(41.3, 51.5, n)
    tag_points(index, lon[:1000], lat[:1000], tolerance_m=15)  # segment trees, built once
    print(f"{'tag_points':44} {'points':>9} {'s':>6} {'M points/s':>10}")
    for label, size, kwargs in [
        ("codes + in/out (grid)", n, {}),
        ("codes + in/out/near_boundary (15 m)", n, {"tolerance_m": 15.0}),
        (
            "... + distance_m to the nearest boundary",
            100_000,
            {"tolerance_m": 15.0, "distances": True},
        ),
        ("geo.tag alone (ids, the grid)", n, None),
        ("uniform over the hexagone: near_boundary (15 m)", n, "uniform"),
    ]:
        start = time.perf_counter()
        if kwargs is None:
            geo.tag(lon[:size], lat[:size])
        elif kwargs == "uniform":
            tag_points(index, uniform_lon, uniform_lat, tolerance_m=15.0)
        else:
            tag_points(index, lon[:size], lat[:size], **kwargs)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        print(f"{label:44} {size:9,} {seconds:6.3f} {size / seconds / 1e6:10.2f}")


if __name__ == "__main__":
    main()
