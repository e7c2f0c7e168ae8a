"""``/v1/jobs``: files too large to wait for, tagged in the background by ``qpv worker``s."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from app.api.deps import JobsDep, OwnerDep, TaggerDep
from app.api.schemas import JobOut
from app.api.uploads import OPENAPI_BODY, options_from_form, read_upload

router = APIRouter(tags=["jobs"])


@router.post("/jobs", status_code=202, response_model=JobOut, openapi_extra=OPENAPI_BODY)
async def submit_job(
    request: Request, response: Response, jobs: JobsDep, tagger: TaggerDep, owner: OwnerDep
) -> JobOut:
    """Queue a file for tagging (the form of ``POST /v1/batch/csv``); poll its ``Location``."""
    upload, form = await read_upload(request, jobs.settings.job_max_bytes)
    try:
        options = options_from_form(form)
        # Options checked against the header now: a missing column is a 422, not a failed job.
        await asyncio.to_thread(tagger.open, upload.file, options)
        upload.file.seek(0)
        record = await jobs.submit(
            upload.file,
            upload.filename or "data.csv",
            options,
            owner=owner,
            # The data this replica answers from: workers tag the job with it or a newer one.
            data_generation=request.app.state.reloader.generation,
        )
    finally:
        await form.close()
    response.headers["Location"] = str(request.url_for("get_job", job_id=record.id).path)
    return JobOut.of(record, time.time())


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(job_id: str, jobs: JobsDep, owner: OwnerDep) -> JobOut:
    """State, rows done of rows total, counts per status, ETA (404: someone else's job)."""
    return JobOut.of(await jobs.get(job_id, owner), time.time())


@router.get(
    "/jobs/{job_id}/result",
    response_class=FileResponse,
    responses={200: {"description": "the tagged file"}, 409: {"description": "not done yet"}},
)
async def get_job_result(job_id: str, jobs: JobsDep, owner: OwnerDep) -> FileResponse:
    """The tagged file, streamed; 409 while the job runs, 404 once it is deleted or expired."""
    path, media_type, filename = await jobs.result(job_id, owner)
    return FileResponse(path, media_type=media_type, filename=filename)


@router.delete("/jobs/{job_id}", status_code=204)
async def delete_job(job_id: str, jobs: JobsDep, owner: OwnerDep) -> Response:
    """Cancel the job if it runs, and delete its files."""
    await jobs.delete(job_id, owner)
    return Response(status_code=204)
