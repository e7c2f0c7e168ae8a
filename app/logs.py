"""Logging of the service's own messages (never a query string, address or coordinate)."""

from __future__ import annotations

import logging

import httpx


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


def install_log_redaction() -> None:
    """Add the filter to the logger httpx uses for request lines, once per process."""
    # httpx logs every request URL at INFO (the BAN client's, a test client's): a process
    # running at INFO would otherwise write addresses to its logs.
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactQueryFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(RedactQueryFilter())


def configure(level: str) -> None:
    """Send the ``app`` loggers to stderr at ``level`` unless the host already configured them."""
    install_log_redaction()
    logger = logging.getLogger("app")
    logger.setLevel(level.upper())
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
