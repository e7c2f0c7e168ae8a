"""Reloading the reference data in a running server, in every worker, without a restart.

The database holds a generation number (``data_generation``), bumped in the same transaction
as every change of the current data (``app.db.publication``) and by ``POST /v1/admin/reload``.
Each worker reads it every ``QPV_RELOAD_POLL_S`` together with the current data (one
statement) and reloads when either moved: no message bus to lose a notice, a worker that was
down catches up at start, the number lives beside the data it describes, and a change that no
generation announced (an older importer) is followed all the same. The new runtime is built in
a thread while requests keep being answered from the old one, then swapped in one step on the
event loop (no request sees half of each); the old geocoders are closed once requests using
them had time to finish. ``/readyz`` says ``degraded`` when a worker still answers from other
data than the database's current one past the reload period (the poll plus its last load).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.api import metrics
from app.data.runtime import Runtime, load_runtime
from app.db.access import bump_generation
from app.db.health import failure_name
from app.db.publication import DataState, read_state
from app.errors import DatabaseNotReady, UpstreamError
from app.settings import Settings

log = logging.getLogger(__name__)


class Reloader:
    """Loads the runtime onto ``app.state`` at start, and again whenever the data moves."""

    def __init__(
        self,
        app: FastAPI,
        settings: Settings,
        engine: Engine,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.settings = settings
        self.engine = engine
        self.meter: metrics.Metrics = app.state.metrics
        self.clock = clock
        self.state: DataState | None = None  # the generation and data this worker answers from
        self.load_s = 0.0  # how long the last load took
        self.behind_since: float | None = None  # first seen answering from other data
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def generation(self) -> int:
        """The data generation this worker answers from (-1 before the first load)."""
        return self.state.generation if self.state is not None else -1

    def start(self) -> None:
        """Load the runtime now (start-up), then watch the generation in the background."""
        try:
            started = self.clock()
            runtime = load_runtime(self.settings, self.engine)
        except SQLAlchemyError as exc:
            detail = (
                f"the database cannot be read ({failure_name(exc)}): restore it, or run 'qpv setup'"
            )
            log.critical("qpv: error: %s", detail)  # one line before uvicorn's traceback
            raise DatabaseNotReady(detail) from None
        self.load_s = self.clock() - started
        self._swap(runtime)
        self._watcher = asyncio.create_task(self._watch())

    async def reload(self) -> int:
        """Bump the generation (every worker follows) and reload this worker now."""
        try:
            await asyncio.to_thread(bump_generation, self.engine)
            wanted = await asyncio.to_thread(read_state, self.engine)
        except SQLAlchemyError:
            raise UpstreamError("the database does not answer: nothing reloaded") from None
        await self._load(wanted)
        return self.generation

    def readiness(self, database: DataState) -> str:
        """``ok`` when this worker answers from the database's current data; ``reloading``
        within the reload period after it moved; ``behind`` past it."""
        if self.state is not None and self.state.same_data(database):
            self.behind_since = None
            return "ok"
        now = self.clock()
        if self.behind_since is None:
            self.behind_since = now
        period = self.settings.reload_poll_s + self.load_s
        return "reloading" if now - self.behind_since <= period else "behind"

    def data_checks(self) -> dict[str, str]:
        """``/readyz``'s view of the data: ``data`` (``readiness`` against the database, or
        ``unknown`` when it does not answer), this worker's generation and process, and the
        database's versions when they are not the ones this worker answers from."""
        checks = {"generation": str(self.generation), "process": str(os.getpid())}
        try:
            database = read_state(self.engine)
        except SQLAlchemyError:
            return {"data": "unknown", **checks}
        checks["data"] = self.readiness(database)
        if checks["data"] != "ok":
            checks["database_generation"] = str(database.generation)
            checks |= {f"database_qpv{g}": v for g, v in database.versions().items()}
        return checks

    async def _load(self, wanted: DataState) -> None:
        async with self._lock:
            if self.state is not None and self.state.same_data(wanted):
                return  # another call loaded it meanwhile
            started = self.clock()
            try:
                runtime = await asyncio.to_thread(load_runtime, self.settings, self.engine)
            except SQLAlchemyError:
                self.meter.reloads.labels("failed").inc()
                log.error("reload of generation %d failed: no database", wanted.generation)
                raise UpstreamError("the database does not answer: nothing reloaded") from None
            self.load_s = self.clock() - started
            self._swap(runtime)
            self.meter.reloads.labels("done").inc()

    def _swap(self, runtime: Runtime) -> None:
        state = self.app.state
        old = list(state.geocoders.values())
        # No await between these lines: each request sees the old state or the new one.
        state.divisions = runtime.divisions
        state.index = runtime.index
        state.geocoders = metrics.metered(runtime.geocoders, self.meter)
        self.state = runtime.state
        self.behind_since = None
        log.info(
            "data generation %d in use (%s)",
            runtime.state.generation,
            ", ".join(f"{g} {v}" for g, v in runtime.state.versions().items()) or "no dataset",
        )
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
                database = await asyncio.to_thread(read_state, self.engine)
                if self.readiness(database) != "ok":
                    await self._load(database)
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
