"""Whether the database still answers, as the readiness probe and the routes see it."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError


def database_state(engine: Engine, revisions: frozenset[str]) -> str:
    """``ok``, ``unreachable`` (no connection, a deleted or unreadable file) or ``schema
    changed`` (no longer at the revisions the service started on)."""
    try:
        with engine.connect() as conn:
            # Reads a table, not only the connection: a file replaced by garbage, or an
            # empty one, fails here every time rather than on some requests only.
            found = frozenset(conn.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        return "unreachable"
    return "ok" if found == revisions else "schema changed"


def failure_name(exc: SQLAlchemyError) -> str:
    """The driver's error class behind a SQLAlchemy error (no message: it may quote SQL)."""
    return type(getattr(exc, "orig", None) or exc).__name__
