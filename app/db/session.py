"""Engine for a database URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def make_engine(url: str, *, existing: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get their folder, foreign keys and WAL.

    ``existing`` (the server): a SQLite file is opened, never created, by a fresh connection
    each time, so that a deleted or replaced file is an error at once rather than an empty
    new database or an old one still held open by a pooled connection.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        file = parsed.database and parsed.database != ":memory:"
        if file and existing:
            uri = f"file:{quote(str(Path(str(parsed.database)).resolve()))}?mode=rw"
            kwargs = {"poolclass": NullPool, **kwargs}
            engine = create_engine("sqlite://", creator=lambda: _sqlite_connect(uri), **kwargs)
        else:
            if file:
                Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_connect(uri: str) -> Any:
    import sqlite3

    # As SQLAlchemy's pysqlite dialect connects (its thread check is off, it shares a
    # connection with the thread pool running the requests).
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def open_database(url: str, **kwargs: Any) -> Engine:
    """An engine on a database that exists and is migrated, else ``DatabaseNotReady``."""
    from app.db.migrate import require_schema  # alembic is loaded only where it is needed

    require_schema(url)
    return make_engine(url, **kwargs)
