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
    """The index is loaded, every configured geocoder has data and the database answers."""
    state = request.app.state
    index = state.index
    if index is None or not index.geographies:
        raise NotReady("no QPV geography is loaded")
    empty = [name for name in state.settings.geocoders if name not in state.geocoders]
    if empty:
        raise NotReady(
            f"configured geocoder without data: {', '.join(empty)} (run `qpv setup`)",
            geocoders=empty,
        )
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise NotReady("the database does not answer") from None
    checks = {"database": "ok"}
    checks |= {f"qpv{g}": geo.dataset.version for g, geo in index.geographies.items()}
    checks |= {f"geocoder_{name}": "ok" for name in state.geocoders}
    divisions = state.divisions
    checks["divisions"] = divisions.info.version if divisions is not None else "absent"
    return Health(status="ok", checks=checks)
