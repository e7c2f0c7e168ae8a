"""``POST /v1/batch`` (JSON items) and ``POST /v1/batch/csv`` (a file, streamed both ways)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.api.deps import SettingsDep, TaggerDep, WhenDep
from app.api.problems import PROBLEM_RESPONSES
from app.api.schemas import BatchAnswer, BatchItem, batch_response
from app.api.uploads import OPENAPI_BODY, prepared_upload, tagged_response
from app.batch.items import (
    ITEM_HEADER,
    ITEM_OPTIONS,
    item_answers,
    item_options,
    item_row,
    mark_bad_points,
)
from app.errors import TooLarge

router = APIRouter(tags=["batches"])
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {**PROBLEM_RESPONSES[422], "description": "Past a size or row limit"}
}


@router.post("/batch", response_model=BatchAnswer, responses=TOO_LARGE)
async def batch(
    tagger: TaggerDep,
    settings: SettingsDep,
    when: WhenDep,
    items: Annotated[list[BatchItem], Body(description="points (lat/lon or x/y) and/or addresses")],
    provider: Annotated[str | None, Query(description="geocoder for the addresses")] = None,
) -> Response:
    """Answer a list of points and addresses, in order."""
    if len(items) > settings.batch_max_items:
        limit = settings.batch_max_items
        raise TooLarge(f"more than {limit} items", limit=limit)
    options = ITEM_OPTIONS.with_(geography=when.geography, as_of=when.as_of, provider=provider)
    dumps = [item.model_dump() for item in items]
    rows = [item_row(**d) for d in dumps]
    results = await tagger.tag_rows(ITEM_HEADER, rows, item_options(rows, options))
    mark_bad_points(dumps, results)
    return batch_response(item_answers(tagger.labels, results))


@router.post(
    "/batch/csv",
    openapi_extra=OPENAPI_BODY,
    response_class=StreamingResponse,
    responses=TOO_LARGE,
)
async def batch_csv(request: Request, tagger: TaggerDep, settings: SettingsDep) -> Response:
    """Tag a CSV or .xlsx file (BAN-style options); every row comes back, in order."""
    upload = await prepared_upload(request, tagger, settings)
    return tagged_response(upload, tagger, settings)
