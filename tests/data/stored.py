"""What a database holds, for the tests that check an import left it unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.migrate import upgrade
from app.db.models import Dataset, Qpv
from app.db.session import make_engine
from tests.conftest import _postgis_database


def counts(url: str) -> tuple[int, int]:
    """How many datasets and quartiers the database at ``url`` holds."""
    engine = make_engine(url)
    with Session(engine) as session:
        result = (
            session.scalar(select(func.count()).select_from(Dataset)) or 0,
            session.scalar(select(func.count()).select_from(Qpv)) or 0,
        )
    engine.dispose()
    return result


@contextmanager
def backend_database(backend: str, folder: Path, prefix: str) -> Iterator[str]:
    """A fresh migrated database: a SQLite file in ``folder``, or a PostGIS one (dropped)."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'qpv.sqlite3'}"
        upgrade(url)
        yield url
        return
    with _postgis_database(prefix) as url:
        yield url
