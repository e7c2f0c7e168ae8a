"""A classified failure of one BAN request, and the per-query results it turns into."""

from __future__ import annotations

import logging
import traceback

import httpx

from app.geocoding.base import GeocodeErrorKind, GeocodeResult

logger = logging.getLogger(__name__)


class RequestError(Exception):
    """A classified failure of one request: safe to show (no address), maybe retryable."""

    def __init__(
        self,
        kind: GeocodeErrorKind,
        detail: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status

    def result(self) -> GeocodeResult:
        """This failure as a per-query result."""
        return GeocodeResult(error=self.kind, error_detail=self.detail)


def bad_response(detail: str) -> RequestError:
    """An answer that is not what the protocol promises (not retried)."""
    return RequestError(GeocodeErrorKind.BAD_RESPONSE, detail)


def content_type(response: httpx.Response) -> str:
    """The media type of an answer, for error details (never its body)."""
    ctype: str = response.headers.get("Content-Type", "no content type")
    return ctype.split(";")[0]


def log_internal_error(where: str, exc: Exception) -> None:
    """Log a bug with its frames (file, line, code) but not its message, which may quote data."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("%s internal error %s\n%s", where, type(exc).__name__, frames)


def internal_error(name: str) -> GeocodeResult:
    """The per-query result of a bug in this client (an exception class name, no data)."""
    return GeocodeResult(error=GeocodeErrorKind.UPSTREAM, error_detail=f"internal error: {name}")
