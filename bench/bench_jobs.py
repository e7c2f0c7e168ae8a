"""Benchmark of a job: degraded Paris and Bondy addresses through the API and 2 workers.

Every Bondy BAN address and a seeded sample of Paris ones, degraded as people type them
(``bench_geocoder.degrade``), are written to one CSV (``id;adresse``); the file is POSTed to
``/v1/jobs`` of a real uvicorn, tagged by ``--workers`` real ``qpv worker`` processes with
the offline geocoder, and the result downloaded. Reported: rows/s from the POST to the last
byte of the result, per core, the share of right QPV answers (same 2024 QPV as at the
address's true BAN position, or outside at both; not found counts as wrong), and the peak
RSS of each worker and of the API.

    .venv/bin/python -m bench.bench_jobs [--rows 100000] [--workers 2] [--chunk-rows 10000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import redis

from app.data.ban_import import import_ban_files
from app.data.importer import import_qpv_file
from app.db.loader import load_index
from app.db.migrate import upgrade
from app.db.session import make_engine
from bench.bench_batch import write_addresses
from bench.bench_geocoder import BAN_BONDY, BAN_PARIS, GEODATA
from deploy.topology import free_port

ROOT = Path(__file__).resolve().parents[1]
QPV_FILES = (
    GEODATA / "qpv2015" / "QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp",
    GEODATA / "qpv2024" / "qpv2024_wgs84_rounded4.geojson",
)


def build_database(folder: Path) -> str:
    """A SQLite file with both geographies and the offline geocoder (Paris and Bondy)."""
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    for path in QPV_FILES:
        import_qpv_file(engine, path)
    import_ban_files(engine, [BAN_BONDY, BAN_PARIS])
    engine.dispose()
    return url


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _cpu_s(pid: int) -> float:
    # utime + stime of every thread of the process, in clock ticks (fields 14 and 15).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def run_job(
    env: dict[str, str], src: Path, dst: Path, workers: int, folder: Path
) -> dict[str, Any]:
    """Start the API and the workers, run one job end to end, stop them."""
    port = free_port()
    procs = [
        _start(["-m", "app.cli", "worker"], env, folder / f"worker-{i}.log") for i in range(workers)
    ]
    api = _start(
        ["-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
         "--no-access-log"],
        env,
        folder / "api.log",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for i, _ in enumerate(procs):
            while b"worker ready" not in (folder / f"worker-{i}.log").read_bytes():
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=600) as client:
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            cpu0 = {p.pid: _cpu_s(p.pid) for p in [*procs, api]}
            t0 = time.perf_counter()
            with src.open("rb") as data:
                posted = client.post("/v1/jobs", files={"data": (src.name, data)},
                                     data={"columns": "adresse"})  # fmt: skip
            posted.raise_for_status()
            job = posted.headers["location"]
            while (status := client.get(job).json())["state"] in ("queued", "running"):
                time.sleep(0.1)
            with client.stream("GET", f"{job}/result") as result, dst.open("wb") as out:
                result.raise_for_status()
                for piece in result.iter_bytes(1 << 20):
                    out.write(piece)
            seconds = time.perf_counter() - t0
            cpu = {p.pid: _cpu_s(p.pid) - cpu0[p.pid] for p in [*procs, api]}
        return {
            "state": status["state"],
            "seconds": round(seconds, 2),
            "counts": status["counts"],
            "cpu_s": {
                **{f"worker-{i}": round(cpu[p.pid], 2) for i, p in enumerate(procs)},
                "api": round(cpu[api.pid], 2),
            },
            "peak_rss_mb": {
                **{f"worker-{i}": _peak_rss_mb(p.pid) for i, p in enumerate(procs)},
                "api": _peak_rss_mb(api.pid),
            },
        }
    finally:
        for proc in [*procs, api]:
            proc.terminate()
        for proc in [*procs, api]:
            proc.wait(timeout=30)


def right_answers(url: str, result: Path, lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    """Rows in order, and the share of rows whose QPV answer is the true address's."""
    geo = load_index(make_engine(url)).get("2024")
    truth = [geo.infos[i].code if i >= 0 else "" for i in geo.tag(lon, lat).tolist()]
    with result.open(encoding="utf-8", newline="") as inp:
        rows = list(csv.DictReader(inp, delimiter=";"))
    in_order = [int(r["id"]) for r in rows] == list(range(len(lon)))
    found = ("in", "out", "near_boundary", "commune_without_qpv", "street_partial")
    right = sum(
        r["qpv_status"] in found and (r["qpv_code"] or "") == t
        for r, t in zip(rows, truth, strict=True)
    )
    return {
        "rows_out": len(rows),
        "in_order": in_order,
        "right_qpv_pct": round(100 * right / len(rows), 2),
    }


def in_process(url: str, src: Path, dst: Path) -> dict[str, Any]:
    """The same file through ``Tagger.tag_file`` in this process: what the job adds to it."""
    from app.batch import TagOptions
    from app.settings import Settings
    from app.tag_cli import build_tagger

    tagger = build_tagger(Settings(database_url=url, geocoders=["local"]))
    cpu0, t0 = time.process_time(), time.perf_counter()
    summary = tagger.tag_file(src, dst, TagOptions(columns=("adresse",)))
    cpu = time.process_time() - cpu0
    return {
        "rows": summary.rows,
        "seconds": round(time.perf_counter() - t0, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_cpu_s": round(summary.rows / cpu),
    }


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = build_database(folder)
        src = folder / "adresses.csv"
        lon, lat = write_addresses(src, args.rows, args.seed)
        namespace = f"bench-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QPV_")}
        env |= {
            "QPV_DATABASE_URL": url,
            "QPV_GEOCODERS": '["local"]',
            "QPV_REDIS_URL": args.redis_url,
            "QPV_JOBS_NAMESPACE": namespace,
            "QPV_JOBS_DIR": str(folder / "jobs"),
            "QPV_JOB_CHUNK_ROWS": str(args.chunk_rows),
        }
        load_before = os.getloadavg()
        try:
            figures = run_job(env, src, folder / "result.csv", args.workers, folder)
        finally:
            client = redis.Redis.from_url(args.redis_url)
            for pattern in (f"{namespace}*", f"saq:{namespace}*", f"saq:job:{namespace}*"):
                for key in client.scan_iter(match=pattern):
                    client.delete(key)
        figures |= right_answers(url, folder / "result.csv", lon, lat)
        figures["in_process_tag_file"] = in_process(url, src, folder / "in_process.csv")
    rate = args.rows / figures["seconds"]
    figures |= {
        "rows": args.rows,
        "workers": args.workers,
        "chunk_rows": args.chunk_rows,
        "rows_per_s": round(rate),
        "rows_per_s_per_core": round(rate / min(args.workers, os.cpu_count() or 1)),
        # What the run cost, whatever else the machine was doing: rows per CPU-second of
        # the workers and the API together.
        "rows_per_cpu_s": round(args.rows / sum(figures["cpu_s"].values())),
        "load_average_before": [round(x, 1) for x in load_before],
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
