"""Keep addresses out of httpx's request log lines (``HTTP Request: GET ...?q=...``)."""

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
    # httpx logs every request URL at INFO; a service running at INFO would otherwise write
    # addresses to its logs. Called by each BAN client, not at import.
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactQueryFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(RedactQueryFilter())
