"""Structured logs: one JSON object a line, for the service's and uvicorn's loggers.

Never a query string, address, name, coordinate or uploaded content: requests are logged by
route template, and exceptions by type and frames, never by message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from contextvars import ContextVar
from typing import Any

import httpx
import orjson

# The id of the request being served, for every line logged while serving it.
REQUEST_ID: ContextVar[str | None] = ContextVar("qpv_request_id", default=None)
# Fields a record may carry through ``extra=``, copied into the JSON object.
FIELDS = ("method", "route", "status", "duration_ms")
_OURS = "qpv-json"


class _Timestamps:
    """UTC timestamps to the millisecond; the date part formatted once a second."""

    _second = -1
    _prefix = ""

    def _timestamp(self, created: float) -> str:
        # One line per request: the date part is formatted once a second, not every time.
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(_Timestamps, logging.Formatter):
    """A record as one JSON line: ts, level, logger, message, request_id and request fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line (exceptions: type and frames, not the message: it may hold input)."""
        message = record.getMessage()
        entry: dict[str, object] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        if message.startswith(_TRACEBACK):
            entry.update(_traceback_text(message))
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        fields = record.__dict__
        for name in FIELDS:
            if name in fields:
                entry[name] = fields[name]
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            entry["frames"] = "".join(traceback.format_tb(record.exc_info[2]))
        return orjson.dumps(entry).decode()


class AccessLog(_Timestamps):
    """The one line per request of ``app.access``, at a fraction of what ``logging`` costs.

    A record through ``logging`` (frame lookup, LogRecord, handler lock, a write and a flush)
    costs more than the rest of the middleware. When the line would reach only JSON stream
    handlers (``qpv serve``, plain uvicorn), the same JSON object is written here directly,
    the lines of one event-loop turn in one write; when anything else would see the record
    (pytest's caplog, a host's own handlers), it goes through ``logging``.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._pending: list[tuple[list[logging.StreamHandler[Any]], str]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # where a flush is scheduled

    def write(self, method: str, route: str, status: int, seconds: float, request_id: str) -> None:
        """Log one answered request (nothing below INFO)."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        message = f"{method} {route} {status}"
        fields = {"method": method, "route": route, "status": status}
        duration_ms = round(seconds * 1000, 2)
        handlers = _json_handlers(self.logger)
        if handlers is None:
            self.logger.info(message, extra={**fields, "duration_ms": duration_ms})
            return
        if not handlers:
            return  # logging would drop it too (its last resort handler is for warnings)
        entry = {
            "ts": self._timestamp(time.time()),
            "level": "INFO",
            "logger": self.logger.name,
            "message": message,
            "request_id": request_id,
            **fields,
            "duration_ms": duration_ms,
        }
        self._append(handlers, orjson.dumps(entry).decode())

    def _append(self, handlers: list[logging.StreamHandler[Any]], line: str) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._pending and self._loop is not loop:
            self.flush()  # lines of a loop that stopped before writing them (a test client's)
        self._pending.append((handlers, line))
        if loop is None:
            self.flush()
        elif self._loop is None:
            self._loop = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the pending lines, one write per handler; never raise (a closed stream)."""
        pending, self._pending, self._loop = self._pending, [], None
        lines: dict[logging.StreamHandler[Any], list[str]] = {}
        for handlers, line in pending:
            for handler in handlers:
                lines.setdefault(handler, []).append(line)
        for handler, text in lines.items():
            with contextlib.suppress(OSError, ValueError), handler.lock or contextlib.nullcontext():
                handler.stream.write("\n".join(text) + "\n")
                handler.flush()


def _json_handlers(logger: logging.Logger) -> list[logging.StreamHandler[Any]] | None:
    """The handlers an INFO record of ``logger`` reaches, if all are JSON stream handlers
    without filters; else None (the record must go through ``logging``)."""
    if logger.filters:
        return None
    found: list[logging.StreamHandler[Any]] = []
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if handler.level > logging.INFO:
                continue
            if (
                not isinstance(handler, logging.StreamHandler)
                or not isinstance(handler.formatter, JsonFormatter)
                or handler.filters
            ):
                return None
            found.append(handler)
        current = current.parent if current.propagate else None
    return found


_TRACEBACK = "Traceback (most recent call last):"


def _traceback_text(text: str) -> dict[str, object]:
    """A traceback passed as a message (Starlette's failed lifespan, which uvicorn logs): its
    frames and exception type, without the exception messages, which may quote input."""
    lines = text.rstrip().splitlines()
    last = lines[-1] if lines else ""
    return {
        "message": "traceback",
        "exception": last.split(":", 1)[0].strip(),
        "frames": "\n".join(line for line in lines[1:] if line.startswith(" ")),
    }


def _json_handler() -> logging.Handler:
    handler = logging.StreamHandler()
    handler.set_name(_OURS)
    handler.setFormatter(JsonFormatter())
    return handler


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
    """JSON lines on stderr for ``app`` and uvicorn, whatever uvicorn's own log options were.

    The ``app`` loggers get a handler only when the host (pytest, a notebook) has not set up
    the root logger; uvicorn's are always rewritten and its access log is replaced by ours.
    """
    install_log_redaction()
    # Nothing of these is written: skip collecting them on every record (one per request).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    app_logger = logging.getLogger("app")
    app_logger.setLevel(level.upper())
    app_logger.handlers = [h for h in app_logger.handlers if h.get_name() != _OURS]
    if not app_logger.handlers and not logging.getLogger().handlers:
        app_logger.addHandler(_json_handler())
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.handlers = [_json_handler()]
    uvicorn.propagate = False
    # uvicorn's debug and trace lines carry client addresses, and its ASGI trace whole
    # scopes (query strings) and bodies: never below INFO, whatever --log-level says.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))
    logging.getLogger("uvicorn.asgi").disabled = True
    for name in ("uvicorn.error", "uvicorn.asgi"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # The middleware writes one line per request (app.access), without the query string.
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").disabled = True


def configure_process(level: str) -> None:
    """JSON lines for every logger of a process without uvicorn (``qpv worker``, SAQ's too).

    The root logger's handlers (the CLI's plain-text one) are replaced by the JSON one.
    """
    configure(level)
    root = logging.getLogger()
    root.handlers = [_json_handler()]
    app_logger = logging.getLogger("app")
    app_logger.handlers = [h for h in app_logger.handlers if h.get_name() != _OURS]
