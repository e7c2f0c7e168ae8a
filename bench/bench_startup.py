"""Start-up time and resident memory of the service, with and without the offline geocoder.

Run after ``make data``: ``python -m bench.bench_startup``. Each configuration runs in a fresh
process, so that the figures include imports and what the lifespan loads.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import asyncio, json, resource, sys, time
t0 = time.perf_counter()
from app.main import create_app
from app.settings import Settings
app = create_app(Settings(geocoders=json.loads(sys.argv[1])))
async def main():
    t1 = time.perf_counter()
    async with app.router.lifespan_context(app):
        t2 = time.perf_counter()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        rss = usage.ru_maxrss / 1024
        print(json.dumps({"imports_s": t1 - t0, "lifespan_s": t2 - t1, "total_s": t2 - t0,
                          "cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mb": rss}))
asyncio.run(main())
"""


def main() -> None:
    """Print start-up figures for each geocoder configuration."""
    print(
        f"{'configuration':32} {'imports s':>9} {'lifespan s':>10} {'total s':>8} {'CPU s':>6} "
        f"{'RSS MB':>7}"
    )
    for label, geocoders in [
        ("both geographies, no geocoder", []),
        ("both geographies + local BAN", ["local"]),
    ]:
        out = subprocess.run(
            [sys.executable, "-c", PROBE, json.dumps(geocoders)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{label:32} {r['imports_s']:9.2f} {r['lifespan_s']:10.2f} {r['total_s']:8.2f} "
            f"{r['cpu_s']:6.2f} {r['max_rss_mb']:7.0f}"
        )


if __name__ == "__main__":
    main()
