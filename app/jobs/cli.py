"""``qpv worker``: run a job worker (any machine that reaches the Redis, database and folder)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from app import logs
from app.settings import Settings


def register(groups: Any) -> None:
    """Add the ``worker`` command."""
    parser: argparse.ArgumentParser = groups.add_parser(
        "worker",
        help="process background jobs (settings from QPV_* variables)",
        description="Process jobs from QPV_REDIS_URL with files under QPV_JOBS_DIR; one chunk "
        "at a time: start one worker per core. SIGINT or SIGTERM stops it.",
    )
    parser.set_defaults(func=_worker)


def _worker(_args: argparse.Namespace) -> int:
    from app.jobs.worker import serve

    settings = Settings()
    logs.configure_process(settings.log_level)  # JSON lines, as the API writes them
    asyncio.run(serve(settings))
    return 0
