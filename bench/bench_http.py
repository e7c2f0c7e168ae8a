"""HTTP throughput of ``GET /v1/point`` under wrk, beside a bare FastAPI + STRtree endpoint.

Run with ``make bench`` (or ``python -m bench.bench_http`` after ``make data``). Both servers
run with 2 uvicorn workers on loopback; wrk (32 connections, 2 threads) shares the 2 cores.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
GEOJSON = (
    Path(os.environ.get("QPV_DATA_DIR", ROOT.parent / "shared" / "geodata"))
    / "qpv2024"
    / "qpv2024_wgs84_rounded4.geojson"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lua(path: str, n: int = 2000) -> str:
    """A wrk script cycling through random points around Paris, Lyon and Marseille."""
    rng = random.Random(42)
    centres = [(48.86, 2.35), (45.76, 4.84), (43.30, 5.37), (48.90, 2.48)]
    points = []
    for _ in range(n):
        lat, lon = rng.choice(centres)
        points.append(f'"lat={lat + rng.gauss(0, 0.05):.6f}&lon={lon + rng.gauss(0, 0.07):.6f}"')
    return (
        f"local q = {{{','.join(points)}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #q + 1\n"
        f'  return wrk.format("GET", "{path}?" .. q[i])\nend\n'
    )


def _serve(app: str, port: int, env: dict[str, str], factory: bool) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"{app} did not start")


def _wrk(url: str, path: str, seconds: int) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 latency in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(path))
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", script.name, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    Path(script.name).unlink()
    if "Non-2xx" in out:
        raise RuntimeError(f"errors during the run:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    return rps, pct("50"), pct("99")


def main() -> None:
    """Run both servers in turn and print a comparison table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    env = dict(os.environ, QPV_BENCH_GEOJSON=str(GEOJSON), QPV_GEOCODERS="[]")
    rows = []
    for label, app, factory, path in [
        ("bare FastAPI + STRtree (reference)", "bench.bare_app:app", False, "/point"),
        ("QPV service GET /v1/point", "app.main:create_app", True, "/v1/point"),
    ]:
        port = _free_port()
        proc = _serve(app, port, env, factory)
        try:
            _wrk(f"http://127.0.0.1:{port}", path, 3)  # warm-up
            rows.append((label, *_wrk(f"http://127.0.0.1:{port}", path, args.seconds)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    reference = rows[0][1]
    print(f"{'server':40} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}")
    for label, rps, p50, p99 in rows:
        print(f"{label:40} {rps:9.0f} {p50:7.2f} {p99:7.2f} {rps / reference:6.2f}")


if __name__ == "__main__":
    main()
