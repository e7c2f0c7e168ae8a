"""The FastAPI application: ``create_app(settings)``; state is loaded in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import logs
from app.api import access, docs, metrics, middleware, problems, reload, routing, web
from app.api.routes import (
    addresses,
    admin,
    adresse,
    batch,
    datasets,
    gaps,
    health,
    jobs,
    maps,
    points,
    quartiers,
)
from app.db.migrate import require_schema
from app.db.session import make_engine
from app.errors import NotReady
from app.jobs.service import Jobs
from app.settings import Settings
from app.spatial.shapes import LayerCache

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; nothing is loaded until the lifespan starts."""
    settings = settings or Settings()
    logs.configure(settings.log_level)
    meter = metrics.Metrics(settings.metrics_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            app.state.revisions = require_schema(settings.database_url)
            access.require_secret(settings)
        except NotReady as exc:
            log.critical("qpv: error: %s", exc.detail)  # one line before uvicorn's traceback
            raise
        engine = make_engine(settings.database_url, existing=True)
        app.state.engine = engine
        # Loads divisions, index and geocoders, and follows the data generation (reloads).
        app.state.reloader = reload.Reloader(app, settings, engine)
        app.state.reloader.start()
        app.state.access = access.Access.from_settings(settings, engine, meter)
        app.state.jobs = Jobs.from_settings(settings)
        try:
            yield
        finally:
            await app.state.reloader.aclose()
            await app.state.access.aclose()
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
        # A redirect to the slash-less path would be built from the Host header (an open
        # redirect behind a proxy that passes it on): a 404 problem instead.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.metrics = meter
    app.state.index = None
    app.state.divisions = None
    app.state.geocoders = {}
    app.state.revisions = frozenset()
    app.state.map_layers = LayerCache()  # simplified map polygons, built on demand
    _install(app, settings, meter)
    return app


def _install(app: FastAPI, settings: Settings, meter: metrics.Metrics) -> None:
    """Error mapping, the service middleware, CORS when configured, routers, docs."""
    problems.install(app)
    middleware.install(app, settings, meter)
    access.install(app, settings, meter)  # before CORS: CORS wraps it (preflights need no key)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
        )
    # Routes are tried in order, and the lookups are the hot path: first, then the probes.
    for router in (
        points.router,
        addresses.router,
        batch.router,
        quartiers.router,
        datasets.router,
        gaps.router,
        maps.router,
        admin.router,
    ):
        routing.include_flat(app, router, "/v1", problems.PROBLEM_RESPONSES)
    routing.include_flat(app, jobs.router, "/v1", problems.JOB_PROBLEM_RESPONSES)
    # API Adresse's interface: its own parameter checks (addok's 400s), no /v1 prefix.
    app.include_router(adresse.router, responses=problems.PROBLEM_RESPONSES)
    app.include_router(health.router, responses=problems.PROBLEM_RESPONSES)
    app.include_router(metrics.router)
    docs.install(app)
    web.install(app, settings)
