"""The FastAPI application: ``create_app(settings)``; state is loaded in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import logs
from app.api import docs, metrics, middleware, problems
from app.api.routes import addresses, datasets, health, points, quartiers
from app.db.loader import load_index
from app.db.migrate import require_schema
from app.db.session import make_engine
from app.errors import DatabaseNotReady
from app.geocoding.providers import build_geocoders
from app.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; nothing is loaded until the lifespan starts."""
    settings = settings or Settings()
    logs.configure(settings.log_level)
    meter = metrics.Metrics(settings.metrics_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            require_schema(settings.database_url)
        except DatabaseNotReady as exc:
            log.critical("qpv: error: %s", exc.detail)  # one line before uvicorn's traceback
            raise
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.index = load_index(engine)
        log.info(
            "index loaded: %s",
            ", ".join(
                f"{g} ({geo.dataset.feature_count} QPV, {geo.dataset.version})"
                for g, geo in app.state.index.geographies.items()
            )
            or "no geography",
        )
        app.state.geocoders = metrics.metered(build_geocoders(settings, engine), meter)
        try:
            yield
        finally:
            for geocoder in app.state.geocoders.values():
                await geocoder.aclose()
            engine.dispose()

    app = FastAPI(
        title="QPV service",
        version="1.0.0",
        summary="Is this address in a quartier prioritaire de la politique de la ville (QPV)?",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = meter
    app.state.index = None
    app.state.geocoders = {}
    problems.install(app)
    middleware.install(app, settings, meter)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"]
        )
    app.include_router(health.router, responses=problems.PROBLEM_RESPONSES)
    for router in (points.router, addresses.router, quartiers.router, datasets.router):
        app.include_router(router, prefix="/v1", responses=problems.PROBLEM_RESPONSES)
    # Last: routes are tried in order, and the lookups are the hot path.
    app.include_router(metrics.router)
    docs.install(app)
    return app
