"""CPU time per ``GET /v1/point`` request through the whole ASGI app, in process, no sockets.

A companion of bench_http.py for loaded machines: it times one process's CPU (not the wall
clock), so other jobs on the machine weigh much less on it, and it alternates the variants
round by round. Each variant (``--variant LABEL=DIR``, the ``app`` package of a checkout)
runs in its own child process against the same database:

    python -m bench.bench_asgi --variant prev=/tmp/prev-core --variant head=. --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _queries(n: int) -> list[bytes]:
    """The same seeded points as bench_http: around Paris, Lyon, Marseille and Bondy."""
    rng = random.Random(42)
    centres = [(48.86, 2.35), (45.76, 4.84), (43.30, 5.37), (48.90, 2.48)]
    out = []
    for _ in range(n):
        lat, lon = rng.choice(centres)
        out.append(
            f"lat={lat + rng.gauss(0, 0.05):.6f}&lon={lon + rng.gauss(0, 0.07):.6f}".encode()
        )
    return out


async def _measure(requests: int) -> float:
    """Microseconds of CPU per request, after a warm-up."""
    import app as package
    from app.main import create_app

    print(f"app from {Path(package.__file__).parent}", file=sys.stderr)

    app: Any = create_app()
    queries = _queries(2000)
    statuses: list[int] = []
    # bench_access.py: the same requests with an API key.
    headers = [(b"host", b"127.0.0.1")]
    if os.environ.get("QPV_BENCH_AUTHORIZATION"):
        headers.append((b"authorization", os.environ["QPV_BENCH_AUTHORIZATION"].encode()))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def call(query: bytes) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v1/point",
            "raw_path": b"/v1/point",
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)

    async with app.router.lifespan_context(app):
        for i in range(500):
            await call(queries[i % len(queries)])
        start = time.process_time()
        for i in range(requests):
            await call(queries[i % len(queries)])
        elapsed = time.process_time() - start
    if set(statuses) != {200}:
        raise RuntimeError(f"statuses {sorted(set(statuses))}")
    return elapsed / requests * 1e6


def _child(folder: Path, requests: int, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(requests)],
        cwd=folder,
        env=dict(env, PYTHONPATH=str(folder)),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.split()[-1])


def main() -> None:
    """Alternate the variants round by round and print each one's median µs/request."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=DIR")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(f"{asyncio.run(_measure(args.child)):.1f}")
        return
    env = dict(os.environ, QPV_GEOCODERS="[]", QPV_LOG_LEVEL="WARNING")
    url = env.get("QPV_DATABASE_URL", "sqlite:///var/qpv.sqlite3")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + str(ROOT / url.removeprefix("sqlite:///"))
    env["QPV_DATABASE_URL"] = url
    variants = [(s.partition("=")[0], Path(s.partition("=")[2]).resolve()) for s in args.variant]
    variants = variants or [("this checkout", ROOT)]
    runs: list[list[float]] = [[] for _ in variants]
    for _ in range(args.rounds):
        for i, (_label, folder) in enumerate(variants):
            runs[i].append(_child(folder, args.requests, env))
    first = statistics.median(runs[0])
    print(f"{'variant':48} {'µs/req':>7} {'/first':>6}  µs/req of each round")
    for (label, _), times in zip(variants, runs, strict=True):
        median = statistics.median(times)
        each = " ".join(f"{t:.0f}" for t in times)
        print(f"{label:48} {median:7.1f} {median / first:6.2f}  {each}")


if __name__ == "__main__":
    main()
