"""Logging set-up happens when the service (or a BAN client) starts, never at import."""

from __future__ import annotations

import subprocess
import sys

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
