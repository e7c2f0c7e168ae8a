"""JSON log lines (fields, request id, exceptions without their message; uvicorn rewritten);
logging set up when the service starts, never at import."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.logs import REQUEST_ID, AccessLog, JsonFormatter, configure


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app.access", logging.INFO, __file__, 1, msg, (), None)
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_line_with_the_request_fields() -> None:
    token = REQUEST_ID.set("abc123")
    try:
        line = JsonFormatter().format(
            _record("GET /v1/point 200", route="/v1/point", status=200, duration_ms=1.5)
        )
    finally:
        REQUEST_ID.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])
    assert {k: entry[k] for k in ("level", "logger", "request_id", "route", "status")} == {
        "level": "INFO",
        "logger": "app.access",
        "request_id": "abc123",
        "route": "/v1/point",
        "status": 200,
    }
    assert entry["duration_ms"] == 1.5


def test_an_exception_is_logged_by_type_and_frames_never_by_message() -> None:
    address = "12 rue " + "Secrète 75018 Paris"  # built: the frames show source lines
    try:
        raise ValueError(address)
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert entry["exception"] == "ValueError"
    assert "test_logs.py" in entry["frames"]
    assert "Secrète" not in json.dumps(entry, ensure_ascii=False)


@pytest.fixture
def uvicorn_loggers() -> Iterator[None]:
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
    saved = {
        n: (
            logging.getLogger(n).handlers[:],
            logging.getLogger(n).propagate,
            logging.getLogger(n).level,
        )
        for n in names
    }
    yield
    for name, (handlers, propagate, level) in saved.items():
        logging.getLogger(name).handlers = handlers
        logging.getLogger(name).propagate = propagate
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).disabled = False


@pytest.mark.usefixtures("uvicorn_loggers")
def test_uvicorn_logs_become_json_and_its_access_log_is_off() -> None:
    logging.getLogger("uvicorn.access").addHandler(logging.StreamHandler())
    configure("INFO")
    [handler] = logging.getLogger("uvicorn").handlers
    assert isinstance(handler.formatter, JsonFormatter)
    assert logging.getLogger("uvicorn.error").handlers == []
    assert logging.getLogger("uvicorn.access").disabled
    configure("INFO")  # idempotent: one app per test
    assert len(logging.getLogger("uvicorn").handlers) == 1


SCRIPT = """
import logging
import app.main, app.geocoding.ban, app.cli
assert logging.getLogger("httpx").filters == [], "a filter was installed at import"
from app.main import create_app
from app.settings import Settings
create_app(Settings())
assert [type(f).__name__ for f in logging.getLogger("httpx").filters] == ["RedactQueryFilter"]
print("ok")
"""


def test_importing_the_app_sets_up_no_logging_and_creating_it_redacts_httpx_urls() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_a_traceback_passed_as_a_message_keeps_its_frames_and_loses_its_messages() -> None:
    # Starlette hands a failed lifespan to uvicorn as formatted text, which uvicorn logs.
    text = (
        "Traceback (most recent call last):\n"
        '  File "app/main.py", line 40, in lifespan\n'
        "    load(settings)\n"
        "ValueError: 12 rue Secrète 75018 Paris\n"
    )
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, text, (), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "traceback"
    assert entry["exception"] == "ValueError"
    assert "app/main.py" in entry["frames"]
    assert "Secrète" not in json.dumps(entry, ensure_ascii=False)


@pytest.mark.usefixtures("uvicorn_loggers")
def test_uvicorn_is_never_below_info_whatever_its_log_level() -> None:
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logging.getLogger(name).setLevel(5)  # uvicorn's TRACE
    configure("DEBUG")
    assert logging.getLogger("uvicorn.error").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("uvicorn.asgi").disabled


@contextmanager
def json_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose records reach one JSON stream handler only, as under ``qpv serve``
    (set up in the test itself: pytest adds its capture handlers to the loggers that do
    not propagate when a test starts)."""
    logger = logging.getLogger("test.access")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_access_lines_skip_logging_yet_read_as_its_json_lines() -> None:
    async def serve(access: AccessLog, stream: io.StringIO) -> str:
        access.write("GET", "/v1/point", 200, 0.0015, "rid-1")
        access.write("GET", "/v1/qpv/{code}", 404, 0.002, "rid-2")
        written = stream.getvalue()
        await asyncio.sleep(0)  # the end of the event-loop turn: both lines in one write
        return written

    with json_logger() as (logger, stream):
        assert asyncio.run(serve(AccessLog(logger), stream)) == ""
    fast = [json.loads(line) for line in stream.getvalue().splitlines()]
    token = REQUEST_ID.set("rid-1")
    try:
        fields = {"method": "GET", "route": "/v1/point", "status": 200, "duration_ms": 1.5}
        slow = json.loads(JsonFormatter().format(_record("GET /v1/point 200", **fields)))
    finally:
        REQUEST_ID.reset(token)
    assert list(fast[0]) == list(slow)  # the same fields in the same order
    assert fast[0] | {"ts": ""} == slow | {"ts": "", "logger": "test.access"}
    assert [fast[1][k] for k in ("route", "status", "request_id")] == [
        "/v1/qpv/{code}",
        404,
        "rid-2",
    ]


def test_access_lines_go_through_logging_when_another_handler_listens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with json_logger() as (logger, stream), caplog.at_level(logging.INFO, logger="test.access"):
        logger.propagate = True  # pytest's capture handler on the root logger sees it too
        AccessLog(logger).write("GET", "/v1/point", 200, 0.0015, "rid-1")
    records = [r for r in caplog.records if r.name == "test.access"]
    assert {(r.__dict__["route"], r.__dict__["status"]) for r in records} == {("/v1/point", 200)}
    assert json.loads(stream.getvalue())["route"] == "/v1/point"
