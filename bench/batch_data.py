"""Seeded input files for the batch benchmarks (coordinates; degraded addresses)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import shapely

from app.spatial.geography import Geography
from app.spatial.index import QpvIndex


def coordinate_rows(index: QpvIndex, n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Half the points within a few km of a 2024 QPV, half spread over the hexagone."""
    rng = np.random.default_rng(seed)
    geo = index.get(Geography.QPV2024)
    centres = shapely.get_coordinates(shapely.centroid(geo.geoms))
    near = n // 2
    picks = centres[rng.integers(0, len(centres), near)]
    lon = np.concatenate(
        [picks[:, 0] + rng.normal(0, 0.02, near), rng.uniform(-4.5, 7.5, n - near)]
    )
    lat = np.concatenate(
        [picks[:, 1] + rng.normal(0, 0.014, near), rng.uniform(43.3, 50.5, n - near)]
    )
    order = rng.permutation(n)
    return lon[order], lat[order]


def write_coordinates_csv(path: Path, lon: np.ndarray, lat: np.ndarray) -> None:
    """id;formation;lat;lon with 6 decimals, ';' and decimal points, as a platform exports."""
    ids = np.arange(1, len(lon) + 1)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("id,formation,lat,lon\n")
        step = 100_000
        for i in range(0, len(lon), step):
            f.writelines(
                f"{k},BTS SIO {k % 97},{b:.6f},{a:.6f}\n"
                for k, a, b in zip(
                    ids[i : i + step].tolist(),
                    lon[i : i + step].tolist(),
                    lat[i : i + step].tolist(),
                    strict=True,
                )
            )


def main() -> None:
    """Write the 1 M-row coordinates file (``python -m bench.batch_data OUT``)."""
    from app.db.loader import load_index
    from app.db.session import make_engine
    from app.settings import Settings

    parser = argparse.ArgumentParser()
    parser.add_argument("output", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    index = load_index(make_engine(Settings().database_url))
    write_coordinates_csv(args.output, *coordinate_rows(index, args.rows))


if __name__ == "__main__":
    main()
