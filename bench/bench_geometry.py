"""CPU of `GET /v1/qpv/{code}` (first answer vs served from the per-dataset cache, exact and
simplified) and of the import's plausibility checks on the official 2024 file, the geometry
comparison (issue 21) beside what one would write first: the overlap and the Hausdorff
distance of every quartier.

Run: QPV_DATA_DIR=/work/shared/geodata .venv/bin/python -m bench.bench_geometry
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from fastapi.testclient import TestClient
from shapely.affinity import translate

from app.data.displacement import M_PER_DEGREE
from app.data.importer import import_qpv_file
from app.data.plausibility import ImportLimits, compare
from app.data.reader import read_qpv_file
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.main import create_app
from app.settings import Settings
from app.spatial.geography import Geography
from tests.conftest import QPV2024_GEOJSON


def _cpu_ms(client: TestClient, url: str, params: dict[str, float], runs: int) -> float:
    start = time.process_time()
    for _ in range(runs):
        assert client.get(url, params=params).status_code == 200
    return (time.process_time() - start) * 1000 / runs


def main() -> None:
    """Print the CPU milliseconds of each measure."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'qpv.sqlite3'}"
        upgrade(url)
        import_qpv_file(make_engine(url), QPV2024_GEOJSON)
        settings = Settings(database_url=url, geocoders=[], access_log=False)
        with TestClient(create_app(settings)) as client:
            geo = client.app.state.index.geographies[Geography.QPV2024]  # type: ignore[attr-defined]
            # The five quartiers with the most vertices (the largest answers).
            largest = sorted(
                geo.by_code, key=lambda c: -shapely.get_num_coordinates(geo.geoms[geo.by_code[c]])
            )[:5]
            for params in ({}, {"simplify": 10.0}):
                first = sum(_cpu_ms(client, f"/v1/qpv/{c}", params, 1) for c in largest) / 5
                cached = sum(_cpu_ms(client, f"/v1/qpv/{c}", params, 200) for c in largest) / 5
                size = len(client.get(f"/v1/qpv/{largest[0]}", params=params).content)
                print(
                    f"/v1/qpv/CODE {params}: first {first:.2f} ms, cached {cached:.2f} ms CPU "
                    f"({largest[0]}: {size:,} bytes)"
                )
    start = time.process_time()
    rows = [(r.code, r.geom) for r in read_qpv_file(QPV2024_GEOJSON).rows]
    read = time.process_time() - start
    start = time.process_time()
    compare(1, rows, rows, ImportLimits.default())
    compared = time.process_time() - start
    print(f"read (with checks) {read:.2f} s, compare 1584 vs 1584 {compared:.3f} s CPU")
    _displacement(rows)


def _cpu_s(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def _every_pair(old: list[tuple[str, Any]], new: list[tuple[str, Any]]) -> None:
    """The first idea: the overlap and the Hausdorff distance of every quartier."""
    a = np.array([g for _, g in old], dtype=object)
    b = np.array([g for _, g in new], dtype=object)
    shapely.area(shapely.intersection(a, b))
    shapely.hausdorff_distance(a, b)


def _displacement(rows: list[tuple[str, Any]]) -> None:
    """compare() on moved, shifted and re-rounded files, against the every-pair measure."""
    goutte = next(g for c, g in rows if c == "QN07511M")
    east = 50_000 / (M_PER_DEGREE * math.cos(math.radians(goutte.centroid.y)))
    files = {
        "same file": rows,
        "re-rounded": [
            (
                c,
                shapely.make_valid(
                    shapely.transform(g, lambda xy: np.round(xy + 5e-5 * np.sin(xy * 1e7), 4))
                ),
            )
            for c, g in rows
        ],
        "one moved 50 km": [(c, translate(g, east) if c == "QN07511M" else g) for c, g in rows],
        "all shifted 2 km": [(c, translate(g, 0, 2000 / M_PER_DEGREE)) for c, g in rows],
    }
    limits = ImportLimits.default()
    for name, new in files.items():
        ours = min(_cpu_s(partial(compare, 1, rows, new, limits)) for _ in range(3))
        naive = min(_cpu_s(partial(_every_pair, rows, new)) for _ in range(3))
        print(
            f"{name}: compare with geometry {ours:.3f} s CPU, overlap + Hausdorff of every "
            f"quartier {naive:.3f} s ({naive / ours:.0f}x)"
        )


if __name__ == "__main__":
    main()
