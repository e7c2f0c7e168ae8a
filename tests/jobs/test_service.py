"""The job service on a real Redis, without workers: owners, expiry, sweeps, records."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Awaitable, Callable
from datetime import date

import pytest

from app.batch import OutputFormat, TagOptions
from app.errors import NotFinished, NotFound
from app.jobs.records import dump_options, load_options
from app.jobs.service import Jobs
from app.settings import Settings
from app.spatial.geography import Geography


def _upload(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def _run(settings: Settings, scenario: Callable[[Jobs], Awaitable[None]]) -> None:
    async def main() -> None:
        jobs = Jobs.from_settings(settings)
        try:
            await scenario(jobs)
        finally:
            await jobs.aclose()

    asyncio.run(main())


def test_a_job_is_visible_to_its_owner_only(job_settings: Settings) -> None:
    async def scenario(jobs: Jobs) -> None:
        record = await jobs.submit(_upload(b"id\n1\n"), "a.csv", TagOptions(), owner="alice")
        assert (await jobs.get(record.id, owner="alice")).state == "queued"
        for other in ("bob", None):
            with pytest.raises(NotFound):
                await jobs.get(record.id, owner=other)
            with pytest.raises(NotFound):
                await jobs.delete(record.id, owner=other)
        with pytest.raises(NotFinished):
            await jobs.result(record.id, owner="alice")

    _run(job_settings, scenario)


def test_the_sweep_purges_expired_jobs_and_orphan_folders(job_settings: Settings) -> None:
    settings = job_settings.model_copy(update={"job_ttl_s": 0.5})

    async def scenario(jobs: Jobs) -> None:
        record = await jobs.submit(_upload(b"id\n1\n"), "a.csv", TagOptions())
        orphan = settings.jobs_dir / "orphan"
        orphan.mkdir()
        os.utime(orphan, (time.time() - 10, time.time() - 10))
        await asyncio.sleep(0.6)
        assert await jobs.sweep() == 2
        assert list(settings.jobs_dir.iterdir()) == []
        assert await jobs.store.get(record.id) is None

    _run(settings, scenario)


@pytest.mark.parametrize(
    "options",
    [
        TagOptions(),
        TagOptions(
            columns=("numero", "voie"),
            postcode="cp",
            geography=Geography.QPV2015,
            as_of=date(2017, 9, 1),
            result_columns=("qpv_status", "qpv_code"),
            delimiter=";",
            encoding="cp1252",
            output_format=OutputFormat.XLSX,
            distances=True,
        ),
    ],
)
def test_options_survive_the_round_trip_through_the_record(options: TagOptions) -> None:
    assert load_options(dump_options(options)) == options
