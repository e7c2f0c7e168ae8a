"""HTTP throughput of ``GET /v1/point`` under wrk, beside a bare FastAPI + STRtree endpoint.

Run with ``make bench`` (or ``python -m bench.bench_http`` after ``make data``). Every server
runs with 2 uvicorn workers on loopback; wrk (32 connections, 2 threads) shares the 2 cores.

Side by side: ``--variant LABEL=DIR`` (repeatable) serves the ``app`` package of another
checkout (``git worktree add /tmp/prev a84af63``) from the same database. All servers are
started first, then measured in turn for ``--rounds`` rounds, so that a loaded machine
weighs on every variant alike; the table gives each one's median and its ratio to the bare
reference and to the first variant.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from deploy.topology import free_port

ROOT = Path(__file__).resolve().parents[1]
GEOJSON = (
    Path(os.environ.get("QPV_DATA_DIR", ROOT.parent / "shared" / "geodata"))
    / "qpv2024"
    / "qpv2024_wgs84_rounded4.geojson"
)


# label, ASGI app, factory?, path, working directory
Server = tuple[str, str, bool, str, Path]


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


def _serve(
    app: str, port: int, env: dict[str, str], factory: bool, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
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
    # ``python -m`` puts the working directory first on sys.path: its ``app`` package wins.
    proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env, PYTHONPATH=str(cwd)))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"{app} did not start from {cwd}")


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


def _variants(specs: list[str]) -> list[tuple[str, Path]]:
    """``LABEL=DIR`` pairs; none given: this checkout alone."""
    if not specs:
        return [("QPV service GET /v1/point", ROOT)]
    out = []
    for spec in specs:
        label, _, folder = spec.partition("=")
        out.append((label, Path(folder).resolve()))
    return out


def main() -> None:
    """Start every server, measure them in turn, print a comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=DIR")
    args = parser.parse_args()
    env = dict(os.environ, QPV_BENCH_GEOJSON=str(GEOJSON), QPV_GEOCODERS="[]")
    # A relative SQLite path would follow each variant's working directory: pin it here.
    url = env.get("QPV_DATABASE_URL", "sqlite:///var/qpv.sqlite3")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + str(ROOT / url.removeprefix("sqlite:///"))
    env["QPV_DATABASE_URL"] = url
    servers: list[Server] = [
        ("bare FastAPI + STRtree (reference)", "bench.bare_app:app", False, "/point", ROOT)
    ]
    servers += [
        (label, "app.main:create_app", True, "/v1/point", d) for label, d in _variants(args.variant)
    ]
    procs, urls = [], []
    try:
        for _label, app, factory, _path, cwd in servers:
            port = free_port()
            procs.append(_serve(app, port, env, factory, cwd))
            urls.append(f"http://127.0.0.1:{port}")
        runs: list[list[tuple[float, float, float]]] = [[] for _ in servers]
        for _ in range(args.rounds):
            for i, (_label, _app, _factory, path, _cwd) in enumerate(servers):
                _wrk(urls[i], path, 3)  # warm-up
                runs[i].append(_wrk(urls[i], path, args.seconds))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    _print(servers, runs)


def _print(servers: list[Server], runs: list[list[tuple[float, float, float]]]) -> None:
    medians = [tuple(statistics.median(r[k] for r in rs) for k in range(3)) for rs in runs]
    reference, first = medians[0][0], medians[min(1, len(medians) - 1)][0]
    header = f"{'server':40} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'/ref':>6} {'/first':>6}"
    print(header + "  req/s of each round")
    for (label, *_), (rps, p50, p99), rs in zip(servers, medians, runs, strict=True):
        each = " ".join(f"{r[0]:.0f}" for r in rs)
        ratios = f"{rps / reference:6.2f} {rps / first:6.2f}"
        print(f"{label:40} {rps:9.0f} {p50:7.2f} {p99:7.2f} {ratios}  {each}")


if __name__ == "__main__":
    main()
