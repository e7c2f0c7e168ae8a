"""The FastAPI application: ``create_app(settings)``; state is loaded in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import logs
from app.api import docs, metrics, middleware, problems
from app.api.params import STRICT_QUERY
from app.api.routes import addresses, batch, datasets, gaps, health, jobs, points, quartiers
from app.data.runtime import load_runtime
from app.db.migrate import require_schema
from app.db.session import make_engine
from app.errors import DatabaseNotReady
from app.jobs.service import Jobs
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
        runtime = load_runtime(settings, engine)
        app.state.divisions = runtime.divisions
        app.state.index = runtime.index
        app.state.geocoders = metrics.metered(runtime.geocoders, meter)
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
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = meter
    app.state.index = None
    app.state.divisions = None
    app.state.geocoders = {}
    _install(app, settings, meter)
    return app


def _install(app: FastAPI, settings: Settings, meter: metrics.Metrics) -> None:
    """Error mapping, the service middleware, CORS when configured, routers, docs."""
    problems.install(app)
    middleware.install(app, settings, meter)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
        )
    app.include_router(health.router, responses=problems.PROBLEM_RESPONSES)
    for router in (
        points.router,
        addresses.router,
        batch.router,
        quartiers.router,
        datasets.router,
        gaps.router,
    ):
        app.include_router(
            router, prefix="/v1", responses=problems.PROBLEM_RESPONSES, dependencies=STRICT_QUERY
        )
    app.include_router(
        jobs.router,
        prefix="/v1",
        responses=problems.JOB_PROBLEM_RESPONSES,
        dependencies=STRICT_QUERY,
    )
    # Last: routes are tried in order, and the lookups are the hot path.
    app.include_router(metrics.router)
    docs.install(app)
