"""``POST /v1/gaps``: QPV vs hors-QPV gaps of an indicator over an uploaded tagged file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from app.api.deps import SettingsDep
from app.errors import InvalidInput, TooLarge
from app.stats import service, source
from app.stats.service import MEDIA_TYPES, ReportFormat

router = APIRouter(tags=["statistics"])


def _check_size(request: Request, data: UploadFile, limit: int) -> None:
    declared = request.headers.get("content-length")
    size = data.size if data.size is not None else int(declared or 0)
    if size > limit or (declared and declared.isdigit() and int(declared) > limit + 65536):
        raise TooLarge(f"the upload is larger than the limit of {limit} bytes", limit=limit)


@router.post(
    "/gaps",
    responses={
        200: {
            "description": "The gap report: JSON (default), CSV (main table) or HTML",
            "content": {"text/csv": {}, "text/html": {}},
        },
        413: {"description": "Upload past QPV_GAPS_MAX_UPLOAD_BYTES"},
    },
)
async def gaps(
    request: Request,
    settings: SettingsDep,
    data: Annotated[UploadFile, File(description="tagged CSV (the batch output)")],
    outcome: Annotated[str | None, Form(description="binary column: rate of positives")] = None,
    shares: Annotated[str | None, Form(description="categorical column: shares")] = None,
    ratio: Annotated[str | None, Form(description="NUMERATOR/DENOMINATOR columns")] = None,
    by: Annotated[str, Form(description="comma-separated group-by columns")] = "",
    positive: Annotated[str | None, Form(description="comma-separated positive values")] = None,
    negative: Annotated[str | None, Form(description="comma-separated negative values")] = None,
    reference: Annotated[str | None, Form(description="reference rate, or its column")] = None,
    threshold: Annotated[int | None, Form(ge=1, description="suppression threshold")] = None,
    confidence: Annotated[float, Form(ge=0.5, lt=1)] = 0.95,
    seed: Annotated[int, Form(description="bootstrap seed (ratio)")] = 0,
    format: Annotated[ReportFormat, Form()] = ReportFormat.JSON,
) -> Response:
    """Counts, rates, gap with its 95% interval, ratio and p-value per group; small cells hidden."""
    _check_size(request, data, settings.gaps_max_upload_bytes)
    indicator = service.indicator_of(outcome, shares, ratio, positive, negative, reference, seed)
    analysis = service.analysis_of(
        indicator, by, settings.gaps_threshold if threshold is None else threshold, confidence
    )
    raw = await data.read(settings.gaps_max_upload_bytes + 1)
    if len(raw) > settings.gaps_max_upload_bytes:
        raise TooLarge(
            f"the upload is larger than the limit of {settings.gaps_max_upload_bytes} bytes"
        )
    if not raw:
        raise InvalidInput("data: the uploaded file is empty", parameter="data")

    def work() -> bytes:
        table = source.read_table(raw, analysis.required_columns())
        return service.rendered(service.report_of(table, analysis), format)

    body = await run_in_threadpool(work)
    return Response(body, media_type=MEDIA_TYPES[format])
