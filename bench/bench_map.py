"""Map layers of ``GET /v1/map/qpv``: CPU time to build each band once, and its size.

Run after ``make data``: ``python -m bench.bench_map``. Built once per dataset and band, then
served from memory (gzipped once): the figures are the first request's cost.
"""

from __future__ import annotations

import time

from app.db.divisions import load_divisions
from app.db.loader import load_index
from app.db.session import make_engine
from app.settings import Settings
from app.spatial.shapes import BANDS, build_layer


def main() -> None:
    """One line per geography and band: features, CPU seconds, raw and gzipped sizes."""
    engine = make_engine(Settings().database_url)
    index = load_index(engine, load_divisions(engine))
    print("| geography | band (zooms) | quartiers | build CPU s | GeoJSON | gzip |")
    print("|---|---|---:|---:|---:|---:|")
    for geography, geo in sorted(index.geographies.items(), reverse=True):
        for number, band in enumerate(BANDS):
            started = time.process_time()
            layer = build_layer(geo, number)
            cpu = time.process_time() - started
            sizes = f"{len(layer.body) / 1e6:.2f} MB | {len(layer.gzipped) / 1e3:.0f} kB"
            zooms = f"{band.min_zoom}-{band.max_zoom}"
            print(f"| {geography} | {number} ({zooms}) | {layer.features} | {cpu:.2f} | {sizes} |")


if __name__ == "__main__":
    main()
