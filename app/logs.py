"""Logging of the service's own messages (never a query string, address or coordinate)."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    """Send the ``app`` loggers to stderr at ``level`` unless the host already configured them."""
    logger = logging.getLogger("app")
    logger.setLevel(level.upper())
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
