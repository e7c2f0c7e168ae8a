"""``qpv serve``: uvicorn with the service's logging, metrics folder and worker count."""

from __future__ import annotations

import argparse
import os
from typing import Any

from app.settings import Settings

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "app.logs.JsonFormatter"}},
    "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        "uvicorn": {"handlers": ["json"], "level": "INFO", "propagate": False},
        # Not through the root logger: the CLI gave it a plain-text handler.
        "app": {"handlers": ["json"], "propagate": False},
        # Replaced by the app's own access line (route template, never the query string).
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}


def server_options() -> dict[str, Any]:
    """uvicorn's limits for a server facing clients (nginx in front enforces its own too)."""
    return {
        # Bounded request heads (414/431), a time limit on them, problem+json refusals.
        "http": "app.protocol:LimitedHttpToolsProtocol",
        # The whole request head, as nginx's `large_client_header_buffers 4 8k` allows.
        "h11_max_incomplete_event_size": 32 * 1024,
        # Idle keep-alive connections and incomplete request heads are closed after this.
        "timeout_keep_alive": 30,
        # Connections (and requests) per worker past which uvicorn answers 503.
        "limit_concurrency": 1024,
        "timeout_graceful_shutdown": 20,
    }


def _require_schema(settings: Settings) -> None:
    """Check the database once, before binding the port or starting workers: a database the
    code cannot use is one ``qpv: error:`` line and exit code 2 (each worker would fail alike)."""
    from app.db.migrate import require_schema

    require_schema(settings.database_url)


def register(groups: Any) -> None:
    """Add the ``serve`` command."""
    parser: argparse.ArgumentParser = groups.add_parser(
        "serve", help="serve the HTTP API (uvicorn, JSON logs, metrics shared by the workers)"
    )
    parser.add_argument("--host", default=os.environ.get("QPV_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("QPV_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("QPV_WORKERS", "2")))
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    _require_schema(settings)
    if settings.metrics_dir is not None:
        # Once, before the workers start: they all write there and /metrics adds them up.
        settings.metrics_dir.mkdir(parents=True, exist_ok=True)
        for stale in settings.metrics_dir.glob("*.db"):
            stale.unlink(missing_ok=True)
        os.environ["QPV_METRICS_DIR"] = str(settings.metrics_dir)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=LOG_CONFIG,
        access_log=False,
        proxy_headers=True,
        **server_options(),
    )
    return 0
