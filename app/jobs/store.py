"""Job records in Redis, shared by every API replica and worker (no row content, ever)."""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis

from app.jobs.records import JobRecord, JobState

# Keys outlive their job's expiry by this much, so that Redis forgets a job even if no
# worker sweeps it (the files are then removed by the orphan sweep).
KEY_GRACE_S = 3600
# Bounds (seconds) of the job duration histogram, from submission to the end.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)

# Set fields only while the state is one of ARGV[1] (comma separated); returns 1 if done.
_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
for allowed in string.gmatch(ARGV[1], '[^,]+') do
  if state == allowed then
    for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
    return 1
  end
end
return 0
"""


class JobStore:
    """Reads and writes job records; every key starts with the namespace."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace
        self._transition = redis.register_script(_TRANSITION)

    @classmethod
    def connect(cls, redis_url: str, namespace: str) -> JobStore:
        """A store on the Redis at ``redis_url`` (connections are opened lazily)."""
        return cls(Redis.from_url(redis_url, decode_responses=True), namespace)

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self.redis.aclose()

    def _key(self, job_id: str, part: str = "") -> str:
        return f"{self.namespace}:job:{job_id}{':' + part if part else ''}"

    def _keys(self, job_id: str) -> list[str]:
        return [self._key(job_id, p) for p in ("", "progress", "counts", "done")]

    @property
    def _expiry(self) -> str:
        return f"{self.namespace}:jobs:expiry"

    async def create(self, record: JobRecord) -> None:
        """Store a new record and schedule its expiry."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(record.id), mapping=record.to_redis())
            pipe.zadd(self._expiry, {record.id: record.expires_at})
            pipe.expireat(self._key(record.id), int(record.expires_at + KEY_GRACE_S))
            await pipe.execute()

    async def get(self, job_id: str) -> JobRecord | None:
        """The record with its progress and counts summed over chunks; None if unknown."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._key(job_id))
            pipe.hvals(self._key(job_id, "progress"))
            pipe.hvals(self._key(job_id, "counts"))
            raw, progress, counts = await pipe.execute()
        if not raw:
            return None
        record = JobRecord.from_redis(raw)
        record.rows_done = sum(int(v) for v in progress)
        for chunk_counts in counts:
            for status, n in json.loads(chunk_counts).items():
                record.counts[status] = record.counts.get(status, 0) + int(n)
        return record

    async def state(self, job_id: str) -> JobState | None:
        """The job's state alone (workers poll it to notice a cancellation)."""
        value = await self.redis.hget(self._key(job_id), "state")  # type: ignore[misc]
        return JobState(value) if value else None

    async def transition(self, job_id: str, allowed: tuple[JobState, ...], **fields: Any) -> bool:
        """Set ``fields`` (``state`` among them) only while the job is in an allowed state."""
        args: list[str] = [",".join(s.value for s in allowed)]
        for name, value in fields.items():
            args += [name, str(value.value if isinstance(value, JobState) else value)]
        return bool(await self._transition(keys=[self._key(job_id)], args=args))

    async def pin_generation(self, job_id: str, generation: int) -> int:
        """Fix the job's data generation unless a chunk already did; returns the fixed one."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self._key(job_id), "tagged_generation", str(generation))
            pipe.hget(self._key(job_id), "tagged_generation")
            results = await pipe.execute()
        return int(results[1])

    async def set_progress(self, job_id: str, chunk: int, rows: int) -> None:
        """Rows of ``chunk`` tagged so far (a retried chunk starts again from 0)."""
        await self.redis.hset(self._key(job_id, "progress"), str(chunk), str(rows))  # type: ignore[misc]

    async def chunk_done(self, job_id: str, chunk: int, rows: int, counts: dict[str, int]) -> int:
        """Record a finished chunk; returns how many chunks are finished."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(job_id, "progress"), str(chunk), str(rows))
            pipe.hset(self._key(job_id, "counts"), str(chunk), json.dumps(counts))
            pipe.sadd(self._key(job_id, "done"), str(chunk))
            pipe.scard(self._key(job_id, "done"))
            for key in self._keys(job_id)[1:]:
                pipe.expireat(key, int(time.time() + 2 * KEY_GRACE_S), nx=True)
            results = await pipe.execute()
        return int(results[3])

    async def set_expiry(self, job_id: str, expires_at: float) -> None:
        """Move the job's expiry (a finished job keeps its result for one TTL more)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(job_id), "expires_at", str(expires_at))
            pipe.zadd(self._expiry, {job_id: expires_at})
            for key in self._keys(job_id):
                pipe.expireat(key, int(expires_at + KEY_GRACE_S))
            await pipe.execute()

    async def expired(self, now: float) -> list[str]:
        """Ids of the jobs whose expiry has passed."""
        ids: list[str] = await self.redis.zrangebyscore(self._expiry, 0, now)
        return ids

    async def known(self) -> set[str]:
        """Ids of every job not yet forgotten."""
        ids: list[str] = await self.redis.zrange(self._expiry, 0, -1)
        return set(ids)

    async def forget(self, job_id: str) -> None:
        """Delete the record and everything stored about the job."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*self._keys(job_id))
            pipe.zrem(self._expiry, job_id)
            await pipe.execute()

    async def lock(self, name: str, ttl_s: float) -> bool:
        """Take a named lock for ``ttl_s`` seconds if nobody holds it."""
        key = f"{self.namespace}:lock:{name}"
        return bool(await self.redis.set(key, "1", nx=True, px=max(int(ttl_s * 1000), 1)))

    def _durations_key(self, state: JobState) -> str:
        return f"{self.namespace}:metrics:job_seconds:{state.value}"

    async def record_duration(self, state: JobState, seconds: float) -> None:
        """Count a finished job's duration in its bucket (one histogram for all workers)."""
        bucket = next((f"{b:g}" for b in DURATION_BUCKETS if seconds <= b), "+Inf")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(self._durations_key(state), bucket, 1)
            pipe.hincrbyfloat(self._durations_key(state), "sum", seconds)
            await pipe.execute()

    async def durations(self, state: JobState) -> tuple[list[tuple[str, int]], float]:
        """Cumulative (bound, count) buckets, ``+Inf`` last, and the sum of seconds."""
        raw: dict[str, str] = await self.redis.hgetall(self._durations_key(state))  # type: ignore[misc]
        total, buckets = 0, []
        for bound in [f"{b:g}" for b in DURATION_BUCKETS] + ["+Inf"]:
            total += int(raw.get(bound, 0))
            buckets.append((bound, total))
        return buckets, float(raw.get("sum", 0.0))
