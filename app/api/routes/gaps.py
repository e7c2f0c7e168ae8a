"""``POST /v1/gaps``: QPV vs hors-QPV gaps of an indicator over a tagged or raw file, or a job.

The multipart body is parsed while it is received (413 past ``QPV_GAPS_MAX_UPLOAD_BYTES``);
its text fields are validated as one model, so each bad one is named in the 422.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from app.api.deps import JobsDep, OwnerDep, SettingsDep, TaggerDep
from app.api.problems import PROBLEM_RESPONSES
from app.api.uploads import options_from_form, read_form
from app.batch.options import invalid
from app.stats.formats import MEDIA_TYPES, ReportFormat

router = APIRouter(tags=["statistics"])


class GapsParams(BaseModel):
    """The indicator and the publication rules (form fields)."""

    model_config = ConfigDict(extra="ignore")

    outcome: str | None = Field(None, description="binary column: rate of the positive values")
    shares: str | None = Field(None, description="categorical column: share of each category")
    ratio: str | None = Field(None, description="NUMERATOR/DENOMINATOR columns: ratio of sums")
    by: str = Field("", description="comma-separated group-by columns")
    positive: str | None = Field(None, description="comma-separated positive values")
    negative: str | None = Field(None, description="comma-separated negative values")
    reference: str | None = Field(None, description="reference rate (0.62, 62%) or its column")
    threshold: Annotated[int, Field(ge=1)] | None = Field(None, description="suppression threshold")
    confidence: float = Field(0.95, ge=0.5, lt=1)
    seed: int = Field(0, description="bootstrap seed (ratio of sums)")
    format: ReportFormat = Field(ReportFormat.JSON, description="json, csv (main table) or html")
    job: str | None = Field(None, description="a finished job's id, instead of a file in data")


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's properties with its $defs written in place (no dangling $ref in OpenAPI)."""
    defs = schema.get("$defs", {})
    properties: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        ref = prop.get("$ref", "")
        target = defs.get(ref.rsplit("/", 1)[-1], {}) if ref else {}
        properties[name] = {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    return properties


_GAPS_PROPERTIES = _inline(GapsParams.model_json_schema())
# The batch options of a raw file are the ones of /v1/batch/csv, except format (ours).
_BATCH_ONLY = {"columns", "result_columns", "postcode", "citycode", "lat", "lon", "x", "y"}
_BATCH_ONLY |= {"provider", "delimiter", "encoding", "geography", "as_of"}
OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "data": {"type": "string", "format": "binary", "description": "CSV"},
                        **_GAPS_PROPERTIES,
                        **{name: {"type": "string"} for name in sorted(_BATCH_ONLY)},
                    },
                }
            }
        },
    }
}


async def _form(request: Request, max_bytes: int) -> FormData:
    # A job id alone may come as a plain urlencoded form; files only as multipart.
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > 65536:
            raise invalid("data", "send files as multipart/form-data")
        return await request.form()
    return await read_form(request, max_bytes)


def _params(form: FormData) -> GapsParams:
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str) and v != ""}
    try:
        return GapsParams.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("form", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


async def _input(
    form: FormData, params: GapsParams, jobs: JobsDep, owner: str | None, folder: Path
) -> Path:
    """The file to analyse: the upload, copied to ``folder``, or a finished job's result."""
    data = form.get("data")
    if params.job is not None:
        if isinstance(data, UploadFile):
            raise invalid("job", "give either a file in data or a job id, not both")
        path, media_type, _ = await jobs.result(params.job, owner)
        if not media_type.startswith("text/csv"):
            raise invalid("job", f"the job's result is {media_type}; gaps reads CSV results")
        return path
    if not isinstance(data, UploadFile):
        raise invalid("data", "send a CSV file in a field named data, or a job id in job")
    path = folder / "input.csv"
    with path.open("wb") as out:
        await run_in_threadpool(shutil.copyfileobj, data.file, out)
    if path.stat().st_size == 0:
        raise invalid("data", "the uploaded file is empty")
    return path


def _batch_options(form: FormData) -> FormData:
    return FormData([(k, v) for k, v in form.multi_items() if k in _BATCH_ONLY or k == "data"])


@router.post(
    "/gaps",
    openapi_extra=OPENAPI_BODY,
    responses={
        200: {
            "description": "The gap report: JSON (default), CSV (main table) or HTML",
            "content": {"application/json": {}, "text/csv": {}, "text/html": {}},
        },
        413: {**PROBLEM_RESPONSES[422], "description": "Upload past the size limit"},
    },
)
async def gaps(
    request: Request, settings: SettingsDep, tagger: TaggerDep, jobs: JobsDep, owner: OwnerDep
) -> Response:
    """Counts, rates, gap with its 95% interval, ratio and p-value per group; small cells hidden.

    A raw file (no ``qpv_status`` column) is tagged first with the options of /v1/batch/csv.
    """
    # pandas and the statistics modules: imported by the first gap request, not at start-up.
    from app.stats import service

    form = await _form(request, settings.gaps_max_upload_bytes)
    try:
        p = _params(form)
        indicator = service.indicator_of(
            p.outcome, p.shares, p.ratio, p.positive, p.negative, p.reference, p.seed
        )
        threshold = settings.gaps_threshold if p.threshold is None else p.threshold
        analysis = service.analysis_of(indicator, p.by, threshold, p.confidence)
        with tempfile.TemporaryDirectory(prefix="qpv-gaps-") as folder:
            path = await _input(form, p, jobs, owner, Path(folder))
            tag = None
            if not service.is_tagged(path):
                tag = service.batch_tag(tagger, options_from_form(_batch_options(form)))

            def work() -> bytes:
                table, tagging = service.load_input(path, analysis, tag)
                return service.rendered(service.report_of(table, analysis, tagging), p.format)

            body = await run_in_threadpool(work)
    finally:
        await form.close()
    return Response(body, media_type=MEDIA_TYPES[p.format])
