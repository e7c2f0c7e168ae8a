"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.api.schemas import Health
from app.errors import NotReady

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health)
def readyz(request: Request) -> Health:
    """The index is loaded and the database answers."""
    index = request.app.state.index
    if index is None or not index.geographies:
        raise NotReady("no QPV geography is loaded")
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise NotReady("the database does not answer") from None
    loaded = {str(g): geo.dataset.version for g, geo in index.geographies.items()}
    return Health(
        status="ok", checks={"database": "ok"} | {f"qpv{g}": v for g, v in loaded.items()}
    )
