"""Cost of the ``ban`` client's own machinery per request (no network, no server).

The client talks to an in-process ``httpx.MockTransport``, so what is timed is this
service's code around each request: query preparation, the concurrency and rate caps,
retries, the circuit breaker, JSON parsing. Three scenarios:

- ``ok``: every ``/search`` answers 200 (the common case);
- ``retry``: every query gets one 503 first, then 200 (backoff set to zero, so the retry
  machinery is timed, not the sleep);
- ``rate``: 400 queries under a 200/s cap: the elapsed time shows the cap is kept
  (~1.96 s: a burst of 8, then 392 at 200/s), not the cost.

Run it from two trees in one go to compare two versions of the client:

    .venv/bin/python bench/bench_ban_client.py [--queries 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.geocoding.ban import BanGeocoder  # noqa: E402
from app.geocoding.base import AddressQuery  # noqa: E402

FEATURE = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [2.48, 48.9]},
    "properties": {
        "label": "1 Rue Test 93140 Bondy",
        "score": 0.9,
        "type": "housenumber",
        "housenumber": "1",
        "name": "1 Rue Test",
        "street": "Rue Test",
        "postcode": "93140",
        "citycode": "93010",
        "city": "Bondy",
        "id": "93010_test_00001",
    },
}
BODY = json.dumps({"type": "FeatureCollection", "features": [FEATURE]}).encode()


def _transport(fail_first: bool) -> httpx.MockTransport:
    seen: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params.get("q", "")
        if fail_first and q not in seen:
            seen.add(q)
            return httpx.Response(503)
        return httpx.Response(200, content=BODY, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handler)


async def _run(queries: int, *, fail_first: bool, rate: float) -> float:
    batch = [AddressQuery(q=f"{n} rue Test 93140 Bondy") for n in range(queries)]
    async with BanGeocoder(
        "http://ban.invalid",
        transport=_transport(fail_first),
        rate=rate,
        concurrency=8,
        bulk=False,
        backoff_base=0.0,
        backoff_max=0.0,
        breaker_threshold=0,
    ) as geocoder:
        started = time.perf_counter()
        results = await geocoder.geocode_many(batch)
        elapsed = time.perf_counter() - started
    assert all(r.error is None and r.best is not None for r in results)
    return elapsed


def main() -> int:
    """Command-line entry point: print one JSON object of figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, object] = {"tree": str(ROOT), "queries": args.queries}
    for name, fail_first in (("ok", False), ("retry", True)):
        best = min(
            asyncio.run(_run(args.queries, fail_first=fail_first, rate=1e9))
            for _ in range(args.repeat)
        )
        figures[f"{name}_us_per_query"] = round(1e6 * best / args.queries, 1)
    figures["rate_200_per_s_400_queries_s"] = round(
        asyncio.run(_run(400, fail_first=False, rate=200.0)), 3
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
