"""What callers do with jobs: submit, look, fetch the result, delete; and the expiry sweep."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ParamSpec, TypeVar

from redis.exceptions import RedisError
from saq import Queue
from saq.queue.redis import RedisQueue

from app.batch import TagOptions
from app.errors import NotFinished, NotFound, UpstreamError
from app.jobs.files import JobFiles
from app.jobs.records import MEDIA_TYPES, JobRecord, JobState
from app.jobs.store import JobStore
from app.settings import Settings

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def _reaching_redis(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Report an unreachable Redis as the domain's UpstreamError, not as a crash."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except RedisError:
            raise UpstreamError("the job queue (Redis) cannot be reached") from None

    return wrapper


@dataclass(frozen=True, slots=True)
class QueueStats:
    """What /metrics shows of the job queue: the same on every replica (it is in Redis)."""

    queued: int  # steps (split, chunk, join) waiting for a worker
    active: int  # steps a worker is running
    durations: dict[JobState, tuple[list[tuple[str, int]], float]]  # buckets and sum


@dataclass(slots=True)
class Jobs:
    """Everything the job functions need: records, files, the queue and the settings."""

    store: JobStore
    files: JobFiles
    queue: Queue
    settings: Settings

    @classmethod
    def from_settings(cls, settings: Settings) -> Jobs:
        """Connect to the Redis and the folder named by the settings."""
        queue = RedisQueue.from_url(settings.redis_url, name=settings.jobs_namespace)
        store = JobStore.connect(settings.redis_url, settings.jobs_namespace)
        return cls(store, JobFiles(settings.jobs_dir), queue, settings)

    async def aclose(self) -> None:
        """Close the Redis connections (a Redis gone away is no reason to fail a shutdown)."""
        with contextlib.suppress(RedisError):
            await self.queue.disconnect()
        await self.store.aclose()

    async def enqueue(self, function: str, key: str, **kwargs: Any) -> None:
        """Queue one step of a job; a key already queued or running is not queued twice."""
        # No timeout: a live worker renews its lease (heartbeat); a dead one's step is swept
        # and retried. One try more than the setting, so the last one can record the failure.
        await self.queue.enqueue(
            function,
            key=key,
            timeout=0,
            heartbeat=max(int(self.settings.job_lease_s), 1),
            retries=self.settings.job_max_tries + 1,
            **kwargs,
        )

    @_reaching_redis
    async def submit(
        self,
        upload: IO[bytes],
        filename: str,
        options: TagOptions,
        owner: str | None = None,
        data_generation: int | None = None,
    ) -> JobRecord:
        """Copy the upload into the job's folder, record the job and queue its split."""
        job_id = secrets.token_urlsafe(12)
        self.files.create(job_id)
        now = time.time()
        record = JobRecord(
            id=job_id,
            state=JobState.QUEUED,
            created_at=now,
            expires_at=now + self.settings.job_ttl_s,
            options=options,
            filename=Path(filename).name or "data",
            owner=owner,
            data_generation=data_generation,
        )
        try:
            await asyncio.to_thread(_copy, upload, self.files.input(job_id, filename))
            await self.store.create(record)
            await self.enqueue("split", key=f"{job_id}:split", job_id=job_id)
        except BaseException:
            self.files.delete(job_id)  # no upload is kept for a job that was not queued
            await asyncio.shield(self.store.forget(job_id))
            raise
        return record

    @_reaching_redis
    async def get(self, job_id: str, owner: str | None = None) -> JobRecord:
        """The job, or NotFound when unknown, expired (then purged) or someone else's."""
        record = await self.store.get(job_id)
        if record is None or record.owner != owner:
            raise NotFound(f"no job {job_id}")
        if record.expires_at <= time.time():
            await self.purge(job_id)
            raise NotFound(f"no job {job_id}: it expired")
        return record

    @_reaching_redis
    async def result(self, job_id: str, owner: str | None = None) -> tuple[Path, str, str]:
        """(path, media type, download name) of a finished job's result file."""
        record = await self.get(job_id, owner)
        if record.state in (JobState.QUEUED, JobState.RUNNING):
            raise NotFinished(f"job {job_id} is {record.state.value}", state=record.state.value)
        path = self.files.result(job_id, record.output_format)
        if record.state is not JobState.DONE or not path.is_file():
            raise NotFound(f"job {job_id} has no result: it is {record.state.value}")
        media = MEDIA_TYPES[record.output_format]
        return path, media, f"{Path(record.filename).stem}-qpv.{record.output_format.value}"

    @_reaching_redis
    async def delete(self, job_id: str, owner: str | None = None) -> None:
        """Cancel an unfinished job (it stays visible as cancelled) or forget a finished one."""
        await self.get(job_id, owner)
        unfinished = (JobState.QUEUED, JobState.RUNNING)
        if await self.store.transition(
            job_id, unfinished, state=JobState.CANCELLED, finished_at=time.time()
        ):
            self.files.delete(job_id)
        else:
            await self.purge(job_id)

    async def fail(self, job_id: str, error: str) -> None:
        """Stop a job on an error: its files go, its record says why."""
        if await self.store.transition(
            job_id,
            (JobState.QUEUED, JobState.RUNNING),
            state=JobState.FAILED,
            error=error,
            finished_at=time.time(),
        ):
            log.warning("job %s failed", job_id)
            self.files.delete(job_id)
            await self.finished(job_id, JobState.FAILED)

    async def finished(self, job_id: str, state: JobState) -> None:
        """Count a job that ended in the duration histogram (a metric: never fails the job)."""
        try:
            record = await self.store.get(job_id)
            if record is not None:
                await self.store.record_duration(state, time.time() - record.created_at)
        except RedisError as exc:
            log.warning("job duration not recorded: %s", type(exc).__name__)

    @_reaching_redis
    async def queue_stats(self) -> QueueStats:
        """Steps queued and running, and the durations of finished jobs (all workers)."""
        queued = await self.queue.count("queued")
        active = await self.queue.count("active")
        durations = {s: await self.store.durations(s) for s in (JobState.DONE, JobState.FAILED)}
        return QueueStats(queued, active, durations)

    async def purge(self, job_id: str) -> None:
        """Delete every file and every key of the job."""
        self.files.delete(job_id)
        await self.store.forget(job_id)

    async def sweep(self) -> int:
        """Purge expired jobs and job folders that no record knows; returns how many."""
        expired = await self.store.expired(time.time())
        for job_id in expired:
            await self.purge(job_id)
        known = await self.store.known()
        orphans = list(self.files.orphans(known, older_than_s=self.settings.job_ttl_s))
        for job_id in orphans:
            self.files.delete(job_id)
        if expired or orphans:
            log.info("swept %d expired jobs, %d orphan folders", len(expired), len(orphans))
        return len(expired) + len(orphans)


def _copy(upload: IO[bytes], path: Path) -> None:
    with path.open("wb") as out:
        shutil.copyfileobj(upload, out, 1 << 20)
