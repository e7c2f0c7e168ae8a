"""RFC 9457 problem+json bodies for every error, request validation included."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import Send

from app.errors import (
    ECHO_CHARS,
    BadParameter,
    GeographyNotLoaded,
    ImportRefused,
    InvalidInput,
    MissingColumns,
    NoGeographyInForce,
    NotFinished,
    NotFound,
    NotReady,
    QpvError,
    StorageUnavailable,
    TooLarge,
    UnexpectedValues,
    UpstreamError,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://qpv.example.org/problems/"


# The one table from domain errors to HTTP: (status, title, type slug). A subclass without its
# own row answers as its nearest listed ancestor.
PROBLEM_TYPES: dict[type[QpvError], tuple[int, str, str]] = {
    QpvError: (500, "Internal error", "internal-error"),
    InvalidInput: (422, "Invalid input", "invalid-input"),
    BadParameter: (400, "Invalid parameter", "invalid-parameter"),
    NotFound: (404, "Not found", "not-found"),
    NotFinished: (409, "Not finished", "not-finished"),
    NoGeographyInForce: (422, "No QPV geography in force", "no-geography-in-force"),
    GeographyNotLoaded: (503, "Geography not loaded", "geography-not-loaded"),
    NotReady: (503, "Service not ready", "not-ready"),
    StorageUnavailable: (503, "Storage unavailable", "storage-unavailable"),
    ImportRefused: (422, "Import refused", "import-refused"),
    UpstreamError: (502, "Upstream error", "upstream-error"),
    UnexpectedValues: (422, "Unexpected values", "unexpected-values"),
    MissingColumns: (422, "Missing columns", "missing-columns"),
    TooLarge: (413, "Too large", "too-large"),
}


def problem_type(error: type[QpvError]) -> tuple[int, str, str]:
    """The (status, title, slug) of a domain error class."""
    for cls in error.__mro__:
        if cls in PROBLEM_TYPES:
            return PROBLEM_TYPES[cls]
    raise TypeError(f"{error.__name__} is not a QpvError")  # unreachable for QpvError


class Problem(BaseModel):
    """An RFC 9457 problem: the body of every error."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        None, description="request validation: one entry per bad parameter"
    )


# Documented on every route: the statuses a caller can meet and their one body shape.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
    }
    for status, description in (
        (400, "Malformed request (a body that is not JSON, a bad multipart upload)"),
        (404, "Not found"),
        (422, "Invalid request or input"),
        (500, "Unexpected error"),
        (502, "A geocoder failed"),
        (503, "Not ready, or geography not loaded"),
    )
}


JOB_PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEM_RESPONSES,
    409: {**PROBLEM_RESPONSES[404], "description": "The job has not finished"},
    413: {**PROBLEM_RESPONSES[404], "description": "The upload is too large"},
}


def problem(
    status: int,
    title: str,
    detail: str,
    slug: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; echoed input in it is bounded (detail, extra strings)."""
    extra = {key: _bounded(value) for key, value in extra.items()}
    body = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": _clip(detail, MAX_DETAIL_CHARS),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# A detail names what was wrong and may quote the input; past this it is cut, whatever the
# input (each quoted value is already cut to ECHO_CHARS where the message is made).
MAX_DETAIL_CHARS = 1000


def _clip(text: str, limit: int = ECHO_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(value: Any) -> Any:
    """Strings of a problem's extra members cut to ECHO_CHARS, in lists and dicts too."""
    if isinstance(value, str):
        return _clip(value)
    if isinstance(value, list | tuple):
        return [_bounded(v) for v in value[:100]]
    if isinstance(value, dict):
        return {_clip(str(k)): _bounded(v) for k, v in list(value.items())[:100]}
    return value


async def send_problem(
    send: Send,
    status: int,
    title: str,
    slug: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Send a problem+json answer from ASGI middleware (outside FastAPI's handlers)."""
    body = orjson.dumps(
        {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    )
    raw = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _location(loc: tuple[Any, ...]) -> str:
    # ("query", "lat") -> "lat": callers think in parameter names.
    return ".".join(str(p) for p in loc[1:]) or str(loc[0]) if loc else ""


async def _qpv_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QpvError)
    status, title, slug = problem_type(type(exc))
    return problem(status, title, exc.detail, slug, **exc.extra)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "parameter": _clip(_location(tuple(e.get("loc", ())))),
            "message": _clip(e.get("msg", ""), MAX_DETAIL_CHARS),
        }
        for e in list(exc.errors())[:20]
    ]
    detail = "; ".join(f"{e['parameter']}: {e['message']}" for e in errors)
    return problem(422, "Invalid request", detail, "invalid-request", errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    slug = title.lower().replace(" ", "-")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # The router names the methods of the first route on this path only; a path served
        # by several routes (GET and DELETE /v1/jobs/{id}) allows all of theirs.
        headers["Allow"] = _allowed(request) or headers.get("Allow", "")
    return problem(exc.status_code, title, str(exc.detail), slug, headers=headers or None)


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _allowed(request: Request) -> str | None:
    """Every documented method of the path this request asked, or None (not documented)."""
    table: list[tuple[re.Pattern[str], str]] | None = getattr(request.app.state, "allow", None)
    if table is None:
        # Built once per app from its OpenAPI paths, the one list of what each path serves.
        table = [
            (compile_path(path)[0], ", ".join(sorted(m.upper() for m in ops if m in _METHODS)))
            for path, ops in request.app.openapi()["paths"].items()
        ]
        request.app.state.allow = table
    path = request.scope["path"]
    return next((methods for regex, methods in table if regex.match(path)), None)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # The message may carry user input (an address): log the type and where it was raised,
    # never the message or the values; keep the body generic.
    where = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unexpected %s, traceback:\n%s", type(exc).__name__, where)
    return problem(500, "Internal error", "an unexpected error occurred", "internal-error")


def install(app: FastAPI) -> None:
    """Map every exception to a problem+json response."""
    app.add_exception_handler(QpvError, _qpv_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
