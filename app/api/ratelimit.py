"""Per-key rate limits shared by every replica: GCRA in one Lua script on Redis.

GCRA keeps one number per key and scope (the theoretical arrival time), so a check is one
round trip and one small key; the clock is Redis's own (TIME), so replicas whose clocks
disagree still share one limit. A limit of N per minute lets a burst of N through, then one
request every 60/N seconds.

When Redis does not answer within the setting's timeout, requests are let through (fail
open) and counted in ``qpv_ratelimit_unavailable``: the limit protects capacity, not data
(keys are checked without Redis), and failing closed would turn a Redis outage into an
outage of every lookup that the in-memory index could still answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS[1]: the bucket; ARGV[1]: interval between requests (µs), ARGV[2]: burst tolerance (µs),
# ARGV[3]: requests wanted. Takes them all if they fit, else one; returns {taken, µs to wait}.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
for _, n in ipairs({tonumber(ARGV[3]), 1}) do
  local new = tat + interval * n
  if new - tolerance <= now then
    redis.call('SET', KEYS[1], new, 'PX', math.ceil((new - now) / 1000) + 1)
    return {n, 0}
  end
end
return {0, tat + interval - tolerance - now}
"""
# One Redis call costs ~100 µs of CPU here, as much as a point lookup: a worker takes up to
# 100 ms of a key's rate at once (at most 50 requests) and spends it within LEASE_S. The
# limit is never exceeded (requests are taken from the shared bucket before they are let
# through); tokens left when a lease ends are lost, so a key spread over many workers gets
# slightly less. Limits under 1,200 a minute are checked one request at a time.
BATCH_OF_RATE = 600  # per-minute limit / this = requests taken at once
MAX_BATCH = 50
LEASE_S = 1.0
MAX_LEASES = 10_000
# After a failure, Redis is left alone this long: a dead Redis costs no timeout per request.
BACKOFF_S = 1.0
WARN_EVERY_S = 60.0


class RateLimiter:
    """Checks one request of a key against its per-minute limit, on a shared Redis."""

    def __init__(self, redis_url: str, namespace: str, timeout_s: float, metrics: Any) -> None:
        self.redis: Redis = Redis.from_url(
            redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self.prefix = f"{namespace}:ratelimit:"
        self.timeout_s = timeout_s
        self.script = self.redis.register_script(GCRA)
        self.unavailable = metrics.ratelimit_unavailable
        self.leases: dict[str, list[float]] = {}  # bucket -> [requests left, until]
        self._skip_until = 0.0
        self._warned_at = -WARN_EVERY_S

    async def wait_s(self, bucket: str, per_minute: int) -> float:
        """0 when the request may go, else the seconds until it would (Retry-After)."""
        if per_minute <= 0:
            return 0.0
        now = time.monotonic()
        if now < self._skip_until:
            self.unavailable.inc()
            return 0.0
        lease = self.leases.get(bucket)
        if lease is not None and lease[0] > 0 and now < lease[1]:
            lease[0] -= 1
            return 0.0
        interval = 60_000_000 // per_minute
        want = max(1, min(per_minute // BATCH_OF_RATE, MAX_BATCH))
        try:
            async with asyncio.timeout(self.timeout_s):
                taken, wait_us = await self.script(
                    keys=[self.prefix + bucket], args=[interval, interval * per_minute, want]
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(now, exc)
            return 0.0
        if int(taken) == 0:
            return int(wait_us) / 1_000_000
        if int(taken) > 1:
            if len(self.leases) >= MAX_LEASES:
                self.leases.clear()
            current = self.leases.get(bucket)  # another request may have taken some meanwhile
            left = current[0] if current is not None and now < current[1] else 0
            self.leases[bucket] = [left + int(taken) - 1, now + LEASE_S]
        return 0.0

    def _failed(self, now: float, exc: BaseException) -> None:
        self._skip_until = now + BACKOFF_S
        self.unavailable.inc()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("rate limits not enforced: Redis unreachable (%s)", type(exc).__name__)

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self.redis.aclose()
