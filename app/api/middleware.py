"""One pure ASGI middleware around the whole app: request id, timeout, headers, logs, metrics.

It wraps even the 500 handler, so every answer carries the request id and security headers.
Cheap on the hot path: a few header tuples appended, one counter, one histogram, one log line.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.metrics import Metrics
from app.api.problems import send_problem
from app.logs import REQUEST_ID, AccessLog
from app.settings import Settings

access_lines = AccessLog(logging.getLogger("app.access"))

# Strict for the JSON API, and enough for /docs and /redoc served from the package: their
# scripts and styles are local files; Redoc needs inline styles and blob: workers.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
)
# Answers that change only with the dataset: validators and caching.
CACHED_PREFIXES = ("/v1/qpv", "/v1/datasets")


def security_headers(basemap_url: str | None) -> tuple[tuple[bytes, bytes], ...]:
    """The headers above, the CSP letting images come from the web map's basemap, if any."""
    if not basemap_url:
        return SECURITY_HEADERS
    origin = "/".join(basemap_url.split("/", 3)[:3])  # scheme://host[:port]
    csp = CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")
    return (*SECURITY_HEADERS[:-1], (b"content-security-policy", csp.encode()))


_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def _request_id(scope: Scope, made: Callable[[], str]) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _REQUEST_ID.match(value):
            return str(value.decode())
    return made()


def route_template(scope: Scope) -> str:
    """The matched route's path template, e.g. /v1/qpv/{code}: no user input in labels."""
    route = scope.get("route")
    path_format: str | None = getattr(route, "path_format", None)
    if path_format is None:
        return "unmatched"
    if isinstance(route, Mount):
        return path_format
    # Routers can be kept nested: the route knows its own part, the static prefix
    # (/v1) is the rest of the matched path.
    parts = scope["path"].split("/")
    return "/".join(parts[: len(parts) - path_format.count("/")]) + path_format


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return None


class _Watchdog:
    """Cancels the requests past their deadline, checked a few times a second.

    One dict entry per request instead of one timer handle: cheaper on the hot path.
    """

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.deadlines: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, task: asyncio.Task[Any], deadline: float) -> None:
        """Cancel ``task`` if it is still watched at ``deadline`` (perf_counter)."""
        self.deadlines[task] = deadline
        loop = task.get_loop()
        if loop is not self._loop:  # first request, or a new loop (tests)
            self._loop = loop
            loop.call_later(self.period_s, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            return
        now = time.perf_counter()
        for task, deadline in list(self.deadlines.items()):
            if deadline <= now:
                del self.deadlines[task]
                self.expired.add(task)
                task.cancel()
        loop.call_later(self.period_s, self._sweep, loop)


class ServiceMiddleware:
    """Request id (X-Request-ID kept or made), time limit, headers, access log and metrics."""

    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.timeout = settings.request_timeout_s
        self.access_log = settings.access_log
        self.cache_control = f"public, max-age={settings.cache_max_age_s}".encode()
        self.security_headers = security_headers(settings.web_basemap_url)
        self.watchdog = _Watchdog(min(1.0, self.timeout / 4))
        # Ids made here: a random prefix per process and a counter (unique across replicas,
        # and cheaper than a uuid per request).
        prefix = os.urandom(8).hex()
        counter = itertools.count(1)
        self._next_id = lambda: f"{prefix}{next(counter):016x}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request through the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "HEAD":
            # Every GET route answers HEAD: the same headers, no body (the server drops it
            # too; done here as well for servers and test clients that do not).
            scope = {**scope, "method": "GET"}
        request_id = _request_id(scope, self._next_id)
        token = REQUEST_ID.set(request_id)
        extra = (*self.security_headers, (b"x-request-id", request_id.encode()))
        started = time.perf_counter()
        status = 500
        task = asyncio.current_task()
        assert task is not None
        deadlines = self.watchdog.deadlines
        self.watchdog.watch(task, started + self.timeout)

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                deadlines.pop(task, None)  # streamed answers may take longer once started
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            elif method == "HEAD" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        outgoing: Callable[[Message], Any] = send_with_headers
        if scope["method"] == "GET" and scope["path"].startswith(CACHED_PREFIXES):
            outgoing = _EtagSender(scope, send_with_headers, self.cache_control).send
        try:
            await self.app(scope, receive, outgoing)
        except asyncio.CancelledError:
            if task not in self.watchdog.expired or task.uncancel() > 0:
                raise  # cancelled from elsewhere (shutdown, disconnect)
            await _timed_out(send_with_headers, self.timeout)
        finally:
            deadlines.pop(task, None)
            self.watchdog.expired.discard(task)
            self._record(scope, method, status, time.perf_counter() - started, request_id)
            REQUEST_ID.reset(token)

    def _record(
        self, scope: Scope, method: str, status: int, seconds: float, request_id: str
    ) -> None:
        route = route_template(scope)
        self.metrics.observe_request(method, route, status, seconds)
        if self.access_log:
            access_lines.write(method, route, status, seconds, request_id)


async def _timed_out(send: Send, seconds: float) -> None:
    detail = f"no answer within {seconds:g} s"
    await send_problem(send, 504, "Request timeout", "timeout", detail)


class _EtagSender:
    """Holds a 200 answer until its body is complete, then sends it with an ETag, or a 304."""

    def __init__(self, scope: Scope, send: Send, cache_control: bytes) -> None:
        self.if_none_match = _header(scope, b"if-none-match")
        self.downstream = send
        self.cache_control = cache_control
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        """Forward, or buffer a 200 answer until its last chunk."""
        if message["type"] == "http.response.start":
            if message["status"] != 200:
                await self.downstream(message)
                return
            self.start = message
            return
        if self.start is None:
            await self.downstream(message)
            return
        self.chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            await self._finish()

    async def _finish(self) -> None:
        assert self.start is not None
        body = b"".join(self.chunks)
        etag = b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'
        validators = [(b"etag", etag), (b"cache-control", self.cache_control)]
        if self.if_none_match is not None and _matches(self.if_none_match, etag):
            start = {"type": "http.response.start", "status": 304, "headers": validators}
            await self.downstream(start)
            await self.downstream({"type": "http.response.body", "body": b""})
            return
        headers = [(k, v) for k, v in self.start.get("headers", ()) if k != b"etag"]
        await self.downstream({**self.start, "headers": [*headers, *validators]})
        await self.downstream({"type": "http.response.body", "body": body})


def _matches(if_none_match: bytes, etag: bytes) -> bool:
    tags = {t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")}
    return b"*" in tags or etag in tags


def install(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """Wrap the app's whole stack (500 handler included) in the service middleware."""
    build_stack = app.build_middleware_stack

    def build() -> ASGIApp:
        return ServiceMiddleware(build_stack(), settings, metrics)

    app.build_middleware_stack = build  # type: ignore[method-assign]
