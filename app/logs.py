"""Logging of the service's own messages (never a query string, address or coordinate)."""

from __future__ import annotations

import logging

import httpx


def configure(level: str) -> None:
    """Send the ``app`` loggers to stderr at ``level`` unless the host already configured them."""
    redact_httpx_urls()
    logger = logging.getLogger("app")
    logger.setLevel(level.upper())
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


class RedactQueryFilter(logging.Filter):
    """Strip query strings from httpx's request log lines: they carry the address (``q=``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the URL arguments of the record; never drop it."""
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


def redact_httpx_urls() -> None:
    """Keep query strings out of httpx's request lines, once per process.

    httpx logs every request URL at INFO (``HTTP Request: GET ...?q=...``); a process logging
    at INFO would otherwise write addresses. Called when the service configures its logging
    and by every BAN client (usable without the service), never at import.
    """
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactQueryFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(RedactQueryFilter())
