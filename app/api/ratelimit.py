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

# KEYS[1]: the bucket; ARGV[1]: interval between requests (µs), ARGV[2]: burst tolerance (µs).
# Returns 0 when allowed, else the microseconds to wait.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat + interval - tolerance - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil((tat + interval - now) / 1000) + 1)
return 0
"""
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
        interval = 60_000_000 // per_minute
        try:
            async with asyncio.timeout(self.timeout_s):
                wait_us = await self.script(
                    keys=[self.prefix + bucket], args=[interval, interval * per_minute]
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(now, exc)
            return 0.0
        return int(wait_us) / 1_000_000

    def _failed(self, now: float, exc: BaseException) -> None:
        self._skip_until = now + BACKOFF_S
        self.unavailable.inc()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("rate limits not enforced: Redis unreachable (%s)", type(exc).__name__)

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self.redis.aclose()
