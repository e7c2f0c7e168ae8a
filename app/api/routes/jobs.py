"""``/v1/jobs``: files too large to wait for, tagged in the background by ``qpv worker``s."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import FileResponse

from app.api.deps import JobsDep
from app.api.schemas import JobOut
from app.api.tag_form import TagOptionsForm

router = APIRouter(tags=["jobs"])
_PIECE = 1 << 20


async def _pieces(upload: UploadFile) -> AsyncIterator[bytes]:
    while piece := await upload.read(_PIECE):
        yield piece


@router.post("/jobs", status_code=202, response_model=JobOut)
async def submit_job(
    request: Request,
    response: Response,
    jobs: JobsDep,
    options: TagOptionsForm,
    data: Annotated[UploadFile, File(description="CSV (any delimiter and encoding) or .xlsx")],
) -> JobOut:
    """Queue a file for tagging; poll the job at its ``Location``."""
    record = await jobs.submit(
        _pieces(data),
        data.filename or "data.csv",
        options,
        owner=None,  # API keys will name the owner
        max_bytes=jobs.settings.job_max_bytes,
    )
    response.headers["Location"] = str(request.url_for("get_job", job_id=record.id).path)
    return JobOut.of(record, time.time())


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(job_id: str, jobs: JobsDep) -> JobOut:
    """State, rows done of rows total, counts per status, ETA."""
    return JobOut.of(await jobs.get(job_id), time.time())


@router.get(
    "/jobs/{job_id}/result",
    response_class=FileResponse,
    responses={200: {"description": "the tagged file"}, 409: {"description": "not done yet"}},
)
async def get_job_result(job_id: str, jobs: JobsDep) -> FileResponse:
    """The tagged file, streamed; 409 while the job runs, 404 once it is deleted or expired."""
    path, media_type, filename = await jobs.result(job_id)
    return FileResponse(path, media_type=media_type, filename=filename)


@router.delete("/jobs/{job_id}", status_code=204)
async def delete_job(job_id: str, jobs: JobsDep) -> Response:
    """Cancel the job if it runs, and delete its files."""
    await jobs.delete(job_id)
    return Response(status_code=204)
