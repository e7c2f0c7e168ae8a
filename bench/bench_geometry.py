"""CPU of `GET /v1/qpv/{code}` (first answer vs served from the per-dataset cache, exact and
simplified) and of the import's plausibility checks on the official 2024 file.

Run: QPV_DATA_DIR=/work/shared/geodata .venv/bin/python -m bench.bench_geometry
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import shapely
from fastapi.testclient import TestClient

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


if __name__ == "__main__":
    main()
