"""Reloading the reference data in a running server, in every worker, without a restart.

The database holds a generation number (``data_generation``), bumped by ``POST
/v1/admin/reload`` and by the ``qpv data`` imports. Each worker reads it every
``QPV_RELOAD_POLL_S`` (one indexed one-row SELECT) and reloads when it moved: no message bus
to lose a notice, a worker that was down catches up at start, and the number lives beside
the data it describes. The new runtime is built in a thread while requests keep being
answered from the old one, then swapped in one step on the event loop (no request sees
half of each); the old geocoders are closed once requests using them had time to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.api import metrics
from app.data.runtime import Runtime, load_runtime
from app.db.access import bump_generation, data_generation
from app.db.health import failure_name
from app.errors import DatabaseNotReady, UpstreamError
from app.settings import Settings

log = logging.getLogger(__name__)


class Reloader:
    """Loads the runtime onto ``app.state`` at start, and again whenever the generation moves."""

    def __init__(self, app: FastAPI, settings: Settings, engine: Engine) -> None:
        self.app = app
        self.settings = settings
        self.engine = engine
        self.meter: metrics.Metrics = app.state.metrics
        self.generation = -1
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Load the runtime now (start-up), then watch the generation in the background."""
        try:
            generation = data_generation(self.engine)  # read first: an import meanwhile is seen
            runtime = load_runtime(self.settings, self.engine)
        except SQLAlchemyError as exc:
            detail = (
                f"the database cannot be read ({failure_name(exc)}): restore it, or run 'qpv setup'"
            )
            log.critical("qpv: error: %s", detail)  # one line before uvicorn's traceback
            raise DatabaseNotReady(detail) from None
        self._swap(runtime, generation)
        self._watcher = asyncio.create_task(self._watch())

    async def reload(self) -> int:
        """Bump the generation (every worker follows) and reload this worker now."""
        try:
            generation = await asyncio.to_thread(bump_generation, self.engine)
        except SQLAlchemyError:
            raise UpstreamError("the database does not answer: nothing reloaded") from None
        await self._load(generation)
        return self.generation

    async def _load(self, generation: int) -> None:
        async with self._lock:
            if generation <= self.generation:
                return  # another call loaded it (or something newer) meanwhile
            try:
                runtime = await asyncio.to_thread(load_runtime, self.settings, self.engine)
            except SQLAlchemyError:
                self.meter.reloads.labels("failed").inc()
                log.error("reload of generation %d failed: no database", generation)
                raise UpstreamError("the database does not answer: nothing reloaded") from None
            self._swap(runtime, generation)
            self.meter.reloads.labels("done").inc()

    def _swap(self, runtime: Runtime, generation: int) -> None:
        state = self.app.state
        old = list(state.geocoders.values())
        # No await between these lines: each request sees the old state or the new one.
        state.divisions = runtime.divisions
        state.index = runtime.index
        state.geocoders = metrics.metered(runtime.geocoders, self.meter)
        self.generation = generation
        log.info("data generation %d in use", generation)
        if old:
            task = asyncio.get_running_loop().create_task(self._close_later(old))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close_later(self, geocoders: list[Any]) -> None:
        try:
            await asyncio.sleep(self.settings.request_timeout_s)  # requests in flight finish
        finally:
            for geocoder in geocoders:
                with contextlib.suppress(Exception):
                    await geocoder.aclose()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reload_poll_s)
            try:
                generation = await asyncio.to_thread(data_generation, self.engine)
                if generation != self.generation:
                    await self._load(generation)
            except (SQLAlchemyError, UpstreamError) as exc:
                # The database is down: keep answering from memory, look again later.
                log.debug("generation check failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        """Stop watching; close the geocoders of older generations now."""
        tasks = [t for t in (self._watcher, *self._closing) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
