"""Run the Alembic migrations from code (CLI, tests, start-up)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.errors import DatabaseNotReady

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


def alembic_config(database_url: str) -> Config:
    """An Alembic config bound to ``database_url``."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` up to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def require_schema(database_url: str) -> frozenset[str]:
    """The code's revisions, or ``DatabaseNotReady`` unless the database is at them.

    A missing SQLite file is reported, not created (connecting would create it empty); a
    revision the code does not know (a newer code migrated it) is refused, not guessed at.
    """
    url = make_url(database_url)
    shown = url.render_as_string(hide_password=True)
    sqlite_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if sqlite_file and not Path(str(url.database)).is_file():
        raise DatabaseNotReady(f"no database at {url.database}: run 'qpv db upgrade'")
    current = _current_heads(database_url, shown)
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    heads = set(scripts.get_heads())
    if current == heads:
        return frozenset(heads)
    known = {script.revision for script in scripts.walk_revisions()}
    unknown = sorted(current - known)
    if unknown:
        raise DatabaseNotReady(
            f"the database {shown} is at revision {', '.join(unknown)}, which this code does "
            f"not know (it needs {', '.join(sorted(heads))}): run the version of the service "
            "that migrated it, or restore a backup"
        )
    state = f"at revision {', '.join(sorted(current))}" if current else "not migrated"
    raise DatabaseNotReady(
        f"the database {shown} is {state} (the code needs {', '.join(sorted(heads))}): "
        "run 'qpv db upgrade'"
    )


def _current_heads(database_url: str, shown: str) -> set[str]:
    """The revisions recorded in the database; ``DatabaseNotReady`` when it cannot be read."""
    engine = create_engine(database_url, poolclass=NullPool)
    # Alembic logs its context (dialect, DDL mode) at INFO: noise around a check that
    # should say one line or nothing.
    quiet = logging.getLogger("alembic.runtime.migration")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        cause = type(getattr(exc, "orig", None) or exc).__name__
        if cause == "DatabaseError" and make_url(database_url).get_backend_name() == "sqlite":
            raise DatabaseNotReady(
                f"the file of {shown} is not a readable SQLite database ({cause}): restore "
                "it from a backup, or move it away and run 'qpv setup'"
            ) from None
        raise DatabaseNotReady(
            f"the database {shown} does not answer ({cause}); "
            "check QPV_DATABASE_URL, then run 'qpv db upgrade'"
        ) from None
    finally:
        quiet.setLevel(level)
        engine.dispose()


def create_database(database_url: str) -> bool:
    """Create the PostgreSQL database the URL names when it does not exist (SQLite files
    are created on first use); True when it was created."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or not url.database:
        return False
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            )
            if exists:
                return False
            quoted = conn.dialect.identifier_preparer.quote(url.database)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        engine.dispose()
    log.info("created database %s", url.database)
    return True
