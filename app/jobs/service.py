"""What callers do with jobs: submit, look, fetch the result, delete; and the expiry sweep."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from saq import Queue
from saq.queue.redis import RedisQueue

from app.batch import TagOptions
from app.errors import NotFinished, NotFound
from app.jobs.files import JobFiles
from app.jobs.records import MEDIA_TYPES, JobRecord, JobState
from app.jobs.store import JobStore
from app.settings import Settings

log = logging.getLogger(__name__)


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
        """Close the Redis connections."""
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

    async def submit(
        self, upload: IO[bytes], filename: str, options: TagOptions, owner: str | None = None
    ) -> JobRecord:
        """Copy the upload into the job's folder, record the job and queue its split."""
        job_id = secrets.token_urlsafe(12)
        self.files.create(job_id)
        path = self.files.input(job_id, filename)
        try:
            await asyncio.to_thread(_copy, upload, path)
        except BaseException:
            self.files.delete(job_id)
            raise
        now = time.time()
        record = JobRecord(
            id=job_id,
            state=JobState.QUEUED,
            created_at=now,
            expires_at=now + self.settings.job_ttl_s,
            options=options,
            filename=Path(filename).name or "data",
            owner=owner,
        )
        await self.store.create(record)
        await self.enqueue("split", key=f"{job_id}:split", job_id=job_id)
        return record

    async def get(self, job_id: str, owner: str | None = None) -> JobRecord:
        """The job, or NotFound when unknown, expired (then purged) or someone else's."""
        record = await self.store.get(job_id)
        if record is None or record.owner != owner:
            raise NotFound(f"no job {job_id}")
        if record.expires_at <= time.time():
            await self.purge(job_id)
            raise NotFound(f"no job {job_id}: it expired")
        return record

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
