"""CPU cost of access control on ``GET /v1/point``: open, with a key, with a key and a rate limit.

In process, no sockets (bench_asgi's measure, one child process per mode, modes alternated
round by round): the CPU time per request of the API process. With the rate limit, each
request makes one EVALSHA round trip to the local Redis (the Redis server's own CPU is not
counted: it is another process).

    QPV_DATABASE_URL=sqlite:///var/qpv.sqlite3 python -m bench.bench_access --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import uuid

import redis

from app.db.access import create_key, revoke_key
from app.db.session import make_engine
from bench.bench_asgi import ROOT, _child

SECRET = "bench-secret"


def _modes(token: str, redis_url: str, namespace: str) -> dict[str, dict[str, str]]:
    closed = {"QPV_OPEN_ACCESS": "false", "QPV_API_KEY_SECRET": SECRET}
    auth = {"QPV_BENCH_AUTHORIZATION": f"Bearer {token}"}
    return {
        "open (no key)": {"QPV_OPEN_ACCESS": "true"},
        "key, no rate limit": {**closed, **auth, "QPV_RATE_LIMITS": json.dumps({"lookup": 0})},
        "key + rate limit (Redis GCRA)": {
            **closed,
            **auth,
            "QPV_RATE_LIMITS": json.dumps({"lookup": 10**9}),
            "QPV_REDIS_URL": redis_url,
            "QPV_JOBS_NAMESPACE": namespace,
        },
    }


def main() -> None:
    """Print each mode's median µs of CPU per request and its ratio to the open service."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    env = dict(os.environ, QPV_GEOCODERS="[]", QPV_LOG_LEVEL="WARNING")
    url = env.get("QPV_DATABASE_URL", "sqlite:///var/qpv.sqlite3")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + str(ROOT / url.removeprefix("sqlite:///"))
    env["QPV_DATABASE_URL"] = url
    engine = make_engine(url)
    key, token = create_key(engine, SECRET, "bench_access", "lookup")
    namespace = f"bench-access-{uuid.uuid4().hex[:8]}"
    modes = _modes(token, args.redis_url, namespace)
    runs: dict[str, list[float]] = {m: [] for m in modes}
    try:
        for _ in range(args.rounds):
            for mode, extra in modes.items():
                runs[mode].append(_child(ROOT, args.requests, {**env, **extra}))
    finally:
        revoke_key(engine, str(key.id))
        client = redis.Redis.from_url(args.redis_url)
        for name in client.scan_iter(match=f"{namespace}*"):
            client.delete(name)
    first = statistics.median(runs["open (no key)"])
    print(f"{'mode':32} {'µs/req':>7} {'/open':>6}  µs/req of each round")
    for mode, times in runs.items():
        median = statistics.median(times)
        each = " ".join(f"{t:.0f}" for t in times)
        print(f"{mode:32} {median:7.1f} {median / first:6.2f}  {each}")


if __name__ == "__main__":
    main()
