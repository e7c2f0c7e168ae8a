"""What a database holds, for the tests that check an import left it unchanged."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Dataset, Qpv
from app.db.session import make_engine


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
