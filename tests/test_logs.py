"""JSON log lines (fields, request id, exceptions without their message; uvicorn rewritten);
logging set up when the service starts, never at import."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from app.logs import REQUEST_ID, JsonFormatter, configure


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
