"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.api.schemas import Health
from app.db.health import database_state
from app.errors import NotReady

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health)
def readyz(request: Request) -> Health:
    """Index, database, geocoders and data, each on its own: `degraded` while the index
    answers alone, or from other data than the database's current one past the reload period.

    A 503 while no index is loaded or a configured geocoder has no data (set-up not done); a
    replica whose database or geocoder is down still answers points: 200, `degraded`.
    """
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
    checks = {"index": "ok", "database": database_state(state.engine, state.revisions)}
    for name, geocoder in state.geocoders.items():
        checks[f"geocoder_{name}"] = "down" if getattr(geocoder, "down", False) else "ok"
    data = state.reloader.data_checks()
    # Answering from the old data while the new one loads is fine; past the period it is not.
    healthy = all(v == "ok" for v in checks.values()) and data["data"] in ("ok", "reloading")
    status = "ok" if healthy else "degraded"
    checks |= {f"qpv{g}": geo.dataset.version for g, geo in index.geographies.items()} | data
    divisions = state.divisions
    checks["divisions"] = divisions.info.version if divisions is not None else "absent"
    return Health(status=status, checks=checks)
