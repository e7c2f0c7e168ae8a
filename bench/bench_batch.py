"""Batch benchmarks, after ``make data`` (uses ``QPV_DATABASE_URL``, default var/qpv.sqlite3).

``python -m bench.bench_batch coords [--rows 1000000]``: a seeded CSV of coordinates
(``bench.batch_data``: half within a few km of a 2024 QPV, half over the hexagone) through
``POST /v1/batch/csv`` of a real uvicorn (1 process), upload streamed from disk and answer
read to the last byte; the server's RSS is sampled every 20 ms (growth = peak during the
request - RSS after a warm-up request). In the same run, the script an analyst would write:
pandas ``read_csv``, geopandas ``points_from_xy`` + ``sjoin`` on the QPV 2024 file,
``to_csv``.

``python -m bench.bench_batch addresses [--rows 100000] [--workers 1 2]``: every Bondy BAN
address and a seeded sample of Paris ones, degraded as ``bench_geocoder.degrade`` does,
through ``qpv tag --columns adresse`` (the offline geocoder, in-process); rows/s from the
command's start to its end (index and geocoder loading included) and the share of right
QPV answers (same 2024 QPV code as at the true BAN position, or outside at both).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from app.db.loader import load_index
from app.db.session import make_engine
from app.settings import Settings
from app.spatial.geography import Geography
from bench.batch_data import coordinate_rows, write_coordinates_csv
from bench.bench_geocoder import BAN_BONDY, BAN_PARIS, GEODATA, degrade, read_rows
from deploy.topology import free_port

ROOT = Path(__file__).resolve().parents[1]
QPV2024 = GEODATA / "qpv2024" / "qpv2024_wgs84_rounded4.geojson"


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _Sampler(threading.Thread):
    """Peak RSS of a process, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _rss_mb(self.pid))
            time.sleep(0.02)


def _post(url: str, path: Path) -> tuple[float, int]:
    import httpx

    start = time.perf_counter()
    size = 0
    with (
        open(path, "rb") as f,
        httpx.stream(
            "POST",
            f"{url}/v1/batch/csv",
            files={"data": ("data.csv", f, "text/csv")},
            data={"lat": "lat", "lon": "lon"},
            timeout=600,
        ) as response,
    ):
        response.raise_for_status()
        for piece in response.iter_raw():
            size += len(piece)
    return time.perf_counter() - start, size


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def analyst_script(src: Path, dst: Path) -> float:
    """pandas read_csv + geopandas points_from_xy + sjoin + to_csv; seconds."""
    import geopandas
    import pandas as pd

    start = time.perf_counter()
    qpv = geopandas.read_file(QPV2024)[["code_qp", "lib_qp", "geometry"]]
    df = pd.read_csv(src)
    points = geopandas.GeoDataFrame(
        df, geometry=geopandas.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326"
    )
    joined = geopandas.sjoin(points, qpv.to_crs("EPSG:4326"), how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    joined.drop(columns=["geometry", "index_right"]).to_csv(dst, index=False)
    return time.perf_counter() - start


def coords(rows: int) -> None:
    """The 1 M-row coordinates benchmark."""
    settings = Settings()
    index = load_index(make_engine(settings.database_url))
    with tempfile.TemporaryDirectory(prefix="qpv-bench-") as tmp:
        src = Path(tmp) / "coords.csv"
        write_coordinates_csv(src, *coordinate_rows(index, rows))
        small = Path(tmp) / "small.csv"
        write_coordinates_csv(small, *coordinate_rows(index, 20_000, seed=2))
        env = {**os.environ, "QPV_GEOCODERS": "[]", "QPV_LOG_LEVEL": "WARNING"}
        server, url = _serve(env)
        try:
            _post(url, small)  # warm-up: rasters and segment trees built once per process
            base = _rss_mb(server.pid)
            sampler = _Sampler(server.pid)
            sampler.start()
            seconds, size = _post(url, src)
            sampler.stop.set()
            sampler.join()
            megabytes = src.stat().st_size / 1e6
        finally:
            server.terminate()
            server.wait()
        script = analyst_script(src, Path(tmp) / "analyst.csv")
    print(f"rows {rows:,}, input {megabytes:.0f} MB")
    print(f"POST /v1/batch/csv end to end: {seconds:.2f} s ({rows / seconds:,.0f} rows/s)")
    print(f"  answer {size / 1e6:.0f} MB; server RSS {base:.0f} MB -> peak {sampler.peak:.0f} MB")
    print(f"  RSS growth {sampler.peak - base:.0f} MB")
    print(f"pandas + geopandas sjoin script: {script:.2f} s; ratio {script / seconds:.2f}x")


def write_addresses(path: Path, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``id;adresse`` of every Bondy address and Paris ones up to ``rows``, degraded."""
    rnd = random.Random(seed)
    bondy = read_rows(BAN_BONDY)
    paris = read_rows(BAN_PARIS)
    chosen = bondy[:rows] + rnd.sample(paris, max(rows - len(bondy), 0))
    rnd.shuffle(chosen)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["id", "adresse"])
        writer.writerows((i, degrade(row, rnd).q) for i, row in enumerate(chosen))
    return np.array([r.lon for r in chosen]), np.array([r.lat for r in chosen])


def addresses(rows: int, workers: list[int], seed: int) -> None:
    """The degraded-addresses benchmark through ``qpv tag``."""
    import pandas as pd

    index = load_index(make_engine(Settings().database_url))
    geo = index.get(Geography.QPV2024)
    with tempfile.TemporaryDirectory(prefix="qpv-bench-") as tmp:
        src = Path(tmp) / "addresses.csv"
        lon, lat = write_addresses(src, rows, seed)
        truth = geo.tag(lon, lat)
        truth_codes = np.where(truth >= 0, geo.codes[np.maximum(truth, 0)], "")
        for n in workers:
            dst = Path(tmp) / f"out-{n}.csv"
            start = time.perf_counter()
            command = [sys.executable, "-m", "app.cli", "tag", str(src), "-o", str(dst)]
            subprocess.run(
                [
                    *command,
                    "--columns",
                    "adresse",
                    "--geography",
                    "2024",
                    "--workers",
                    str(n),
                    "-q",
                ],
                cwd=ROOT,
                check=True,
            )
            seconds = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            out = pd.read_csv(dst, sep=";", dtype=str, keep_default_na=False)
            right = out["qpv_code"].to_numpy() == truth_codes
            right &= ~out["qpv_status"].isin(["not_found", "invalid", "geocoder_error"]).to_numpy()
            counts = out["qpv_status"].value_counts().to_dict()
            print(
                f"qpv tag --workers {n}: {len(out):,} rows in {seconds:.1f} s "
                f"({len(out) / seconds:,.0f} rows/s, {len(out) / seconds / n:,.0f} per worker); "
                f"right QPV answer {100 * right.mean():.2f} %; peak child RSS {peak:.0f} MB"
            )
            print(f"  statuses: {counts}")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="which", required=True)
    c = sub.add_parser("coords")
    c.add_argument("--rows", type=int, default=1_000_000)
    a = sub.add_parser("addresses")
    a.add_argument("--rows", type=int, default=100_000)
    a.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.which == "coords":
        coords(args.rows)
    else:
        addresses(args.rows, args.workers, args.seed)


if __name__ == "__main__":
    main()
