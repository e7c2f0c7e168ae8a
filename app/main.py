"""The FastAPI application: ``create_app(settings)``; state is loaded in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import logs
from app.api import problems
from app.api.routes import addresses, batch, datasets, gaps, health, jobs, points, quartiers
from app.data.ban_import import load_local_geocoder_if_ready
from app.db.divisions import load_divisions
from app.db.loader import load_index
from app.db.session import make_engine
from app.geocoding.providers import build_geocoders
from app.jobs.service import Jobs
from app.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; nothing is loaded until the lifespan starts."""
    settings = settings or Settings()
    logs.configure(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        # Optional: without it the service still answers, naming fewer communes and
        # checking postcodes and INSEE codes by their shape only (/readyz says so).
        app.state.divisions = load_divisions(engine)
        if app.state.divisions is None:
            log.warning("no administrative divisions: run `qpv data sync`")
        app.state.index = load_index(engine, app.state.divisions)
        log.info(
            "index loaded: %s",
            ", ".join(
                f"{g} ({geo.dataset.feature_count} QPV, {geo.dataset.version})"
                for g, geo in app.state.index.geographies.items()
            )
            or "no geography",
        )
        app.state.geocoders = build_geocoders(
            settings, lambda: load_local_geocoder_if_ready(engine)
        )
        app.state.jobs = Jobs.from_settings(settings)
        try:
            yield
        finally:
            await app.state.jobs.aclose()
            for geocoder in app.state.geocoders.values():
                await geocoder.aclose()
            engine.dispose()

    app = FastAPI(
        title="QPV service",
        version="1.0.0",
        summary="Is this address in a quartier prioritaire de la politique de la ville (QPV)?",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.index = None
    app.state.divisions = None
    app.state.geocoders = {}
    problems.install(app)
    app.include_router(health.router, responses=problems.PROBLEM_RESPONSES)
    for router in (
        points.router,
        addresses.router,
        batch.router,
        quartiers.router,
        datasets.router,
        gaps.router,
    ):
        app.include_router(router, prefix="/v1", responses=problems.PROBLEM_RESPONSES)
    app.include_router(jobs.router, prefix="/v1", responses=problems.JOB_PROBLEM_RESPONSES)
    return app
