"""Multipart uploads for batches: size-capped while received, options read BAN-style."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from app.batch import OutputFormat, Tagger, TagOptions
from app.batch.options import invalid
from app.batch.pipeline import media_type
from app.batch.readers import count_rows
from app.errors import TooLarge, echo
from app.settings import Settings
from app.spatial.geography import Geography

log = logging.getLogger(__name__)
TEXT_FIELDS = ("postcode", "citycode", "lat", "lon", "x", "y", "provider", "delimiter", "encoding")
LIST_FIELDS = ("columns", "result_columns")
FIELDS = (*TEXT_FIELDS, *LIST_FIELDS, "geography", "as_of", "format", "distances")

# OpenAPI for a body FastAPI does not parse itself (it is parsed while counting bytes).
OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "data": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV or .xlsx",
                        },
                        **{
                            name: {"type": "array", "items": {"type": "string"}}
                            for name in LIST_FIELDS
                        },
                        **{name: {"type": "string"} for name in TEXT_FIELDS},
                        "geography": {"type": "string", "enum": [g.value for g in Geography]},
                        "as_of": {"type": "string", "format": "date"},
                        "format": {"type": "string", "enum": [f.value for f in OutputFormat]},
                        "distances": {"type": "boolean"},
                    },
                }
            }
        },
    }
}


async def _capped(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise TooLarge(f"the upload is larger than {limit} bytes", limit=limit)
        yield chunk


async def read_form(request: Request, max_bytes: int) -> FormData:
    """The multipart form, files spooled to disk past 1 MB; 413 past the cap while received."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise TooLarge(f"the upload is larger than {max_bytes} bytes", limit=max_bytes)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise invalid("data", "send the file as multipart/form-data in a field named data")
    parser = MultiPartParser(request.headers, _capped(request, max_bytes), max_files=1)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise invalid("data", f"malformed multipart body: {exc.message}") from None


async def read_upload(request: Request, max_bytes: int) -> tuple[UploadFile, FormData]:
    """The uploaded ``data`` file (spooled to disk past 1 MB) and the form; 413 past the cap."""
    form = await read_form(request, max_bytes)
    upload = form.get("data")
    if not isinstance(upload, UploadFile):
        await form.close()
        raise invalid("data", "no file in a form field named data")
    return upload, form


def options_from_form(form: FormData) -> TagOptions:
    """TagOptions from the form fields; each bad value is a 422 naming its field."""
    text = {name: _one(form, name) for name in TEXT_FIELDS}
    lists = {name: tuple(str(v) for v in form.getlist(name) if str(v)) for name in LIST_FIELDS}
    geography = _one(form, "geography")
    as_of = _one(form, "as_of")
    fmt = _one(form, "format")
    return TagOptions(
        columns=lists["columns"],
        postcode=text["postcode"],
        citycode=text["citycode"],
        lat=text["lat"],
        lon=text["lon"],
        x=text["x"],
        y=text["y"],
        geography=_parse(Geography, geography, "geography"),
        as_of=_parse(date.fromisoformat, as_of, "as_of"),
        provider=text["provider"],
        result_columns=lists["result_columns"] or None,
        delimiter=text["delimiter"],
        encoding=text["encoding"],
        output_format=_parse(OutputFormat, fmt, "format"),
        distances=_flag(_one(form, "distances")),
    ).check()


def _one(form: FormData, name: str) -> str | None:
    values = [v for v in form.getlist(name) if isinstance(v, str)]
    if len(values) > 1:
        raise invalid(name, "give this field once")
    return values[0] if values and values[0] != "" else None


def _parse(kind: Any, value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise invalid(name, f"{echo(value)} is not a valid value") from None


def _flag(value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise invalid("distances", "must be true or false")


@dataclass(frozen=True, slots=True)
class PreparedUpload:
    """An upload whose options were checked against its header and row count."""

    file: IO[bytes]
    options: TagOptions  # resolved: delimiter, encoding and output format fixed
    form: FormData

    async def close(self) -> None:
        """Delete the spooled upload."""
        await self.form.close()


OptionsOf = Callable[[FormData, IO[bytes]], TagOptions]


async def prepared_upload(
    request: Request, tagger: Tagger, settings: Settings, options_of: OptionsOf | None = None
) -> PreparedUpload:
    """Receive, check and count an upload before the first byte of the answer is sent
    (``options_of``: how to read the form, given the file; default: /v1/batch/csv's)."""
    upload, form = await read_upload(request, settings.batch_max_bytes)
    try:
        options = options_of(form, upload.file) if options_of else options_from_form(form)
        rows = await asyncio.to_thread(count_rows, upload.file, options)
        if rows > settings.batch_max_rows:
            limit = settings.batch_max_rows
            raise TooLarge(f"the file has more than {limit} rows", limit=limit)
        _, resolved = await asyncio.to_thread(tagger.open, upload.file, options)
        upload.file.seek(0)
    except BaseException:
        await form.close()
        raise
    return PreparedUpload(upload.file, resolved, form)


def tagged_response(
    upload: PreparedUpload, tagger: Tagger, settings: Settings, name: str = "tagged"
) -> StreamingResponse:
    """The tagged file, streamed while later rows are tagged; the upload deleted after."""
    fmt = upload.options.output_format
    assert fmt is not None
    return StreamingResponse(
        private_stream(
            tagger.stream(upload.file, upload.options, max_rows=settings.batch_max_rows)
        ),
        media_type=media_type(fmt, upload.options.encoding),
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt.value}"'},
        background=BackgroundTask(upload.close),
    )


async def private_stream(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The stream, with any failure after the first byte re-raised without its message.

    Once the answer has started no problem+json can be sent: the connection is cut, and the
    server logs the error. Messages may quote the upload, so only the type is kept.
    """
    try:
        async for piece in stream:
            yield piece
    except Exception as exc:
        log.error("batch stream failed: %s", type(exc).__name__)
        raise BatchStreamError(type(exc).__name__) from None


class BatchStreamError(RuntimeError):
    """A batch failed after its answer had started (the message is the cause's type only)."""
