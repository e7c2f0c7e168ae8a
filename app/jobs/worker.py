"""``qpv worker``: a SAQ worker that splits jobs, tags their chunks and joins the parts.

Each step is idempotent and keyed by job and chunk, so a step that a dead worker left
half done (swept after ``QPV_JOB_LEASE_S`` without heartbeat, then retried elsewhere) gives
the same files; a part is published by an atomic rename, never half written.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from saq import Worker
from saq.types import Context, PartialTimersDict

from app.batch import Tagger, TagOptions, join_outputs, split_input
from app.batch.pipeline import Progress
from app.errors import QpvError
from app.jobs.records import JobRecord, JobState, dump_options
from app.jobs.service import Jobs
from app.settings import Settings
from app.tag_cli import load_tagger

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobCancelled(Exception):
    """The job was cancelled or deleted while a step ran."""


class StepFailed(Exception):
    """A step failed unexpectedly; SAQ retries it (the message names only the error type)."""


@dataclass(slots=True)
class Runtime:
    """What one worker process holds: job access, the tagger and its one tagging thread."""

    jobs: Jobs
    tagger: Tagger
    generation: int  # the data generation the tagger was loaded from
    # One thread: a worker tags one chunk at a time (CPU bound); other workers run in
    # other processes or on other machines.
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))

    @property
    def settings(self) -> Settings:
        """The worker's settings."""
        return self.jobs.settings

    async def blocking(
        self, ctx: Context, job_id: str, work: Callable[[Progress], T], chunk: int | None = None
    ) -> T:
        """Run ``work`` in the tagging thread, renewing the lease and watching for cancel."""
        cancelled = threading.Event()
        done = [0]

        def progress(rows: int) -> None:
            done[0] += rows
            if cancelled.is_set():
                raise JobCancelled

        future = asyncio.get_running_loop().run_in_executor(self.executor, work, progress)
        tick = max(self.settings.job_lease_s / 3, 0.2)
        try:
            while not (await asyncio.wait({future}, timeout=tick))[0]:
                await ctx["job"].update()  # the heartbeat: a job not touched for a lease is swept
                if chunk is not None:
                    await self.jobs.store.set_progress(job_id, chunk, done[0])
                state = await self.jobs.store.state(job_id)
                if state is None or state.finished:
                    cancelled.set()
        except asyncio.CancelledError:
            cancelled.set()  # the worker stops: SAQ queues the step again, the thread quits
            raise
        if cancelled.is_set():
            raise JobCancelled
        return future.result()

    async def reload(self, ctx: Context, job_id: str) -> None:
        """Load the database's current data generation, unless it is the one in use."""
        from app.db.access import data_generation
        from app.db.session import make_engine

        engine = make_engine(self.settings.database_url)
        try:
            generation = await asyncio.to_thread(data_generation, engine)
        finally:
            engine.dispose()
        if generation == self.generation:
            return
        # In the tagging thread, the lease renewed meanwhile; both data sets in memory a while.
        tagger, generation = await self.blocking(ctx, job_id, lambda _: load_data(self.settings))
        old, self.tagger, self.generation = self.tagger, tagger, generation  # one step
        log.info("data generation %d in use", generation)
        await _close_geocoders(old)
        del old, tagger
        # build_tagger froze every object out of the collector's sight, the old data too:
        # one full collection frees what of it only the collector can.
        await self.blocking(ctx, job_id, lambda _: _collect_frozen())


def _collect_frozen() -> None:
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def _close_geocoders(tagger: Tagger) -> None:
    for geocoder in tagger.resolver.geocoders.values() if tagger.resolver else ():
        with contextlib.suppress(Exception):
            await geocoder.aclose()


def load_data(settings: Settings) -> tuple[Tagger, int]:
    """A tagger of the database's current data, and the data generation it is (read together)."""
    return load_tagger(settings)


async def _discard(jobs: Jobs, job_id: str) -> None:
    """Delete the files of a job that ended without a result."""
    # A late duplicate step of a done job (swept from a slow worker) keeps the result.
    if await jobs.store.state(job_id) is not JobState.DONE:
        jobs.files.delete(job_id)


async def _guarded(
    runtime: Runtime, ctx: Context, job_id: str, step: Callable[[JobRecord], Awaitable[None]]
) -> None:
    """Run one step of a job unless it ended; turn errors into a failed job or a retry."""
    jobs = runtime.jobs
    record = await jobs.store.get(job_id)
    if record is None or record.state.finished:
        await _discard(jobs, job_id)
        return
    attempts = ctx["job"].attempts
    if attempts > runtime.settings.job_max_tries:
        await jobs.fail(job_id, f"a worker stopped {attempts - 1} times on this job")
        return
    try:
        await step(record)
    except JobCancelled:
        await _discard(jobs, job_id)
    except QpvError as exc:
        # Domain errors (a bad file, an unknown column) will not change on a retry.
        await jobs.fail(job_id, exc.detail)
    except Exception as exc:
        state = await jobs.store.state(job_id)
        if state is None or state.finished:
            await _discard(jobs, job_id)
            return
        # The message may quote the file's content: log the type and frames only.
        where = "".join(traceback.format_tb(exc.__traceback__))
        log.error("job %s: %s, traceback:\n%s", job_id, type(exc).__name__, where)
        if attempts >= runtime.settings.job_max_tries:
            await jobs.fail(job_id, f"internal error ({type(exc).__name__})")
            return
        raise StepFailed(type(exc).__name__) from None


async def _split(runtime: Runtime, ctx: Context, job_id: str, record: JobRecord) -> None:
    jobs = runtime.jobs
    if record.chunks is None:
        src = jobs.files.find_input(job_id)
        if src is None:
            await jobs.fail(job_id, "the uploaded file is gone from the jobs folder")
            return
        await jobs.store.transition(
            job_id, (JobState.QUEUED,), state=JobState.RUNNING, started_at=time.time()
        )
        folder = jobs.files.chunks(job_id)
        rows_per_chunk = runtime.settings.job_chunk_rows
        split = await runtime.blocking(
            ctx, job_id, lambda _: split_input(src, folder, rows_per_chunk, record.options)
        )
        for i, chunk in enumerate(split.chunks):
            os.replace(chunk, folder / f"chunk-{i:05d}{chunk.suffix}")
        if not await jobs.store.transition(
            job_id,
            (JobState.RUNNING,),
            rows_total=split.rows,
            chunks=len(split.chunks),
            chunk_options=dump_options(split.options),
        ):
            raise JobCancelled
        src.unlink()  # the chunks hold the rows now: keep no second copy
        record.chunks = len(split.chunks)
    for i in range(record.chunks):
        await jobs.enqueue("tag_chunk", key=f"{job_id}:chunk:{i}", job_id=job_id, chunk=i)
    if record.chunks == 0:
        await jobs.enqueue("join", key=f"{job_id}:join", job_id=job_id)


async def _follow_generation(
    runtime: Runtime, ctx: Context, job_id: str, record: JobRecord
) -> Tagger | None:
    """The tagger of the job's data generation, or None once the job failed for want of it.

    The first chunk tagged fixes the job's generation (the submitted one, or newer if this
    worker has it); a generation above the worker's proves that the database moved on, so
    the worker reloads then and only then (no polling). A worker that has moved past the
    job's generation cannot tag it any more: the job fails rather than mix two data sets.
    """
    pinned = record.tagged_generation
    if pinned is None:
        if (record.data_generation or 0) > runtime.generation:
            await runtime.reload(ctx, job_id)
        pinned = await runtime.jobs.store.pin_generation(job_id, runtime.generation)
    if pinned > runtime.generation:
        await runtime.reload(ctx, job_id)
    if pinned != runtime.generation:
        await runtime.jobs.fail(
            job_id,
            f"the data changed during the job (generation {pinned}, now {runtime.generation}): "
            "resubmit the file",
        )
        return None
    return runtime.tagger


async def _tag_chunk(
    runtime: Runtime, ctx: Context, job_id: str, chunk: int, record: JobRecord
) -> None:
    jobs = runtime.jobs
    part = jobs.files.part(job_id, chunk)
    sidecar = part.with_suffix(".json")
    if not part.exists():
        src = next(iter(jobs.files.chunks(job_id).glob(f"chunk-{chunk:05d}*")), None)
        if src is None or record.chunk_options is None:
            if not part.exists():  # else another worker just published it
                await jobs.fail(job_id, f"chunk {chunk} was lost")
                return
        else:
            tagger = await _follow_generation(runtime, ctx, job_id, record)
            if tagger is None:
                return
            await _tag_one(runtime, ctx, job_id, chunk, src, record.chunk_options, tagger)
    tagged = json.loads(sidecar.read_text())
    finished = await jobs.store.chunk_done(job_id, chunk, tagged["rows"], tagged["counts"])
    if finished >= (record.chunks or 0):
        await jobs.enqueue("join", key=f"{job_id}:join", job_id=job_id)


async def _tag_one(
    runtime: Runtime,
    ctx: Context,
    job_id: str,
    chunk: int,
    src: Path,
    options: TagOptions,
    tagger: Tagger,
) -> None:
    part = runtime.jobs.files.part(job_id, chunk)
    tmp = part.with_name(f".{part.name}.{secrets.token_hex(4)}")
    try:
        summary = await runtime.blocking(
            ctx,
            job_id,
            lambda progress: tagger.tag_file(src, tmp, options, progress),
            chunk=chunk,
        )
        part.with_suffix(".json").write_text(
            json.dumps({"rows": summary.rows, "counts": summary.counts})
        )
        os.replace(tmp, part)  # published whole, or not at all
    finally:
        tmp.unlink(missing_ok=True)
    src.unlink(missing_ok=True)


async def _join(runtime: Runtime, ctx: Context, job_id: str, record: JobRecord) -> None:
    jobs = runtime.jobs
    parts = [jobs.files.part(job_id, i) for i in range(record.chunks or 0)]
    missing = [i for i, part in enumerate(parts) if not part.exists()]
    for i in missing:  # a chunk recorded but whose part is gone: tag it again
        await jobs.enqueue("tag_chunk", key=f"{job_id}:chunk:{i}", job_id=job_id, chunk=i)
    if missing or record.chunk_options is None:
        return
    options = record.chunk_options
    dst = jobs.files.result(job_id, record.output_format)
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}")
    try:
        await runtime.blocking(ctx, job_id, lambda _: join_outputs(parts, tmp, options))
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    now = time.time()
    if not await jobs.store.transition(
        job_id, (JobState.RUNNING,), state=JobState.DONE, finished_at=now
    ):
        raise JobCancelled
    await jobs.store.set_expiry(job_id, now + runtime.settings.job_ttl_s)
    await jobs.finished(job_id, JobState.DONE)
    for path in jobs.files.chunks(job_id).iterdir():
        path.unlink(missing_ok=True)


def functions(runtime: Runtime) -> list[tuple[str, Callable[..., Awaitable[None]]]]:
    """The job functions of a worker, by the names the API and the steps enqueue."""

    async def split(ctx: Context, *, job_id: str) -> None:
        await _guarded(runtime, ctx, job_id, lambda r: _split(runtime, ctx, job_id, r))

    async def tag_chunk(ctx: Context, *, job_id: str, chunk: int) -> None:
        await _guarded(runtime, ctx, job_id, lambda r: _tag_chunk(runtime, ctx, job_id, chunk, r))

    async def join(ctx: Context, *, job_id: str) -> None:
        await _guarded(runtime, ctx, job_id, lambda r: _join(runtime, ctx, job_id, r))

    return [("split", split), ("tag_chunk", tag_chunk), ("join", join)]


def build_runtime(settings: Settings) -> Runtime:
    """Load the index and geocoders from the database named by the settings."""
    tagger, generation = load_data(settings)
    log.info("data generation %d in use", generation)
    return Runtime(Jobs.from_settings(settings), tagger, generation)


async def _sweep_forever(runtime: Runtime) -> None:
    period = runtime.settings.job_sweep_s
    while True:
        try:
            if await runtime.jobs.store.lock("sweep", period * 0.9):
                await runtime.jobs.sweep()
        except Exception as exc:  # a sweep that fails is tried again next period
            log.warning("sweep failed: %s", type(exc).__name__)
        await asyncio.sleep(period)


async def serve(settings: Settings) -> None:
    """Process jobs until SIGINT or SIGTERM."""
    runtime = build_runtime(settings)
    # SAQ's sweep hands the chunks of a dead worker (no heartbeat for a lease) to another.
    sweep = max(int(settings.job_sweep_s), 1)
    timers: PartialTimersDict = {"sweep": sweep, "abort": 1, "schedule": 1, "worker_info": 10}
    worker = Worker(
        runtime.jobs.queue,
        functions=functions(runtime),
        # host:pid, so that operators (and the SIGKILL test) know which process holds a chunk
        id=f"{socket.gethostname()}:{os.getpid()}",
        concurrency=1,
        timers=timers,
        dequeue_timeout=1.0,
    )
    sweeper = asyncio.create_task(_sweep_forever(runtime))
    log.info("worker ready: queue %s, jobs in %s", settings.jobs_namespace, settings.jobs_dir)
    try:
        await runtime.jobs.queue.connect()
        await worker.start()
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await _close_geocoders(runtime.tagger)
        await runtime.jobs.aclose()
        runtime.executor.shutdown(wait=False, cancel_futures=True)
