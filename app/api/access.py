"""Access control: ``Authorization: Bearer <key>``, a scope per route, per-key rate limits.

A pure ASGI middleware inside the service middleware (so its 401/403/429 answers carry the
request id, headers, logs and metrics) and inside CORS (preflights need no key). It runs
before routing and before any body is read: a refused upload is never received.
Keys are looked up by their keyed hash and kept in memory per worker for
``QPV_API_KEY_CACHE_S``, so a request does not reach the database; while the database is
down, keys already seen stay valid.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.metrics import Metrics
from app.api.problems import PROBLEM_JSON, Problem, send_problem
from app.api.ratelimit import RateLimiter
from app.db.access import find_key
from app.errors import NotReady
from app.keys import ApiKey, key_hash, looks_like_key
from app.keys import Scope as KeyScope
from app.settings import Settings

log = logging.getLogger(__name__)

# The scope each route family needs; any other /v1 path needs admin (deny by default).
# Probes, /metrics and the documentation are public (restrict /metrics at the proxy).
ROUTE_SCOPES: tuple[tuple[str, KeyScope], ...] = (
    ("/v1/point", KeyScope.LOOKUP),
    ("/v1/address", KeyScope.LOOKUP),
    ("/v1/qpv", KeyScope.LOOKUP),
    ("/v1/datasets", KeyScope.LOOKUP),
    ("/v1/map", KeyScope.LOOKUP),
    ("/v1/batch", KeyScope.BATCH),
    ("/v1/jobs", KeyScope.BATCH),
    ("/v1/gaps", KeyScope.BATCH),
    ("/v1/admin", KeyScope.ADMIN),
    # API Adresse's interface: the scopes of the /v1 siblings (CSV before its parent path).
    ("/search/csv", KeyScope.BATCH),
    ("/reverse/csv", KeyScope.BATCH),
    ("/search", KeyScope.LOOKUP),
    ("/reverse", KeyScope.LOOKUP),
)
MAX_CACHED = 10_000
REALM = 'Bearer realm="qpv"'


def required_scope(path: str) -> KeyScope | None:
    """The scope a path needs, or None for a public one."""
    for prefix, scope in ROUTE_SCOPES:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return scope
    if path == "/v1" or path.startswith("/v1/"):
        return KeyScope.ADMIN
    return None


def require_secret(settings: Settings) -> None:
    """NotReady unless the service is open or has the keys' server secret."""
    if settings.open_access:
        return
    if settings.api_key_secret is None or not settings.api_key_secret.get_secret_value():
        raise NotReady(
            "QPV_API_KEY_SECRET is not set: set it (API keys are hashed with it), "
            "or QPV_OPEN_ACCESS=true for a service without keys"
        )


class KeyCache:
    """Keys by keyed hash, looked up in the database at most once per TTL per worker."""

    def __init__(self, engine: Engine, secret: str, ttl_s: float) -> None:
        self.engine = engine
        self.secret = secret
        self.ttl_s = ttl_s
        self.entries: dict[str, tuple[ApiKey | None, float]] = {}

    async def find(self, token: str) -> ApiKey | None:
        """The live key of ``token``; NotReady when it cannot be checked (database down)."""
        digest = key_hash(self.secret, token)
        now = time.monotonic()
        cached = self.entries.get(digest)
        if cached is not None and now - cached[1] < self.ttl_s:
            return cached[0]
        try:
            key = await asyncio.to_thread(find_key, self.engine, digest)
        except SQLAlchemyError:
            if cached is not None:  # the database is down: what we knew still holds
                return cached[0]
            raise NotReady("the API key cannot be checked: the database does not answer") from None
        if len(self.entries) >= MAX_CACHED:
            self.entries.clear()  # unknown tokens must not grow memory without bound
        self.entries[digest] = (key, now)
        return key


class Access:
    """What the access middleware needs at run time: the key cache and the rate limiter."""

    def __init__(self, settings: Settings, keys: KeyCache | None, limiter: RateLimiter | None):
        self.settings = settings
        self.keys = keys
        self.limiter = limiter

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, metrics: Metrics) -> Access:
        """Open mode: nothing to check; else a key cache and a limiter on the jobs' Redis."""
        require_secret(settings)
        if settings.open_access or settings.api_key_secret is None:
            return cls(settings, None, None)
        secret = settings.api_key_secret.get_secret_value()
        keys = KeyCache(engine, secret, settings.api_key_cache_s)
        limiter = RateLimiter(
            settings.redis_url, settings.jobs_namespace, settings.rate_limit_timeout_s, metrics
        )
        return cls(settings, keys, limiter)

    def per_minute(self, key: ApiKey, scope: KeyScope) -> int:
        """The key's own limit, else the scope's (0: none)."""
        if key.rate_per_min is not None:
            return key.rate_per_min
        return self.settings.rate_limits.get(scope.value, 0)

    async def aclose(self) -> None:
        """Close the limiter's connections."""
        if self.limiter is not None:
            await self.limiter.aclose()


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" else ""
    return None


class AccessMiddleware:
    """Refuses requests without a key granting the route's scope, or past the key's rate."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.failures = metrics.auth_failures
        self.limited = metrics.ratelimit_rejected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on with its key in ``request.state.api_key``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        access: Access | None = getattr(scope["app"].state, "access", None)
        needed = required_scope(scope["path"])
        if access is None or access.keys is None or needed is None:
            await self.app(scope, receive, send)
            return
        key = await self._check(access, scope, send, needed)
        if key is not None:
            scope.setdefault("state", {})["api_key"] = key
            await self.app(scope, receive, send)

    async def _check(
        self, access: Access, scope: Scope, send: Send, needed: KeyScope
    ) -> ApiKey | None:
        """The key when the request may go on; else the refusal is sent and None returned."""
        assert access.keys is not None and access.limiter is not None
        token = _bearer(scope)
        if token is None:
            await self._refuse(send, 401, "missing", "send Authorization: Bearer <API key>", REALM)
            return None
        try:
            key = await access.keys.find(token) if looks_like_key(token) else None
        except NotReady as exc:
            await send_problem(send, 503, "Service not ready", "not-ready", exc.detail)
            return None
        if key is None:
            challenge = f'{REALM}, error="invalid_token"'
            await self._refuse(send, 401, "invalid", "unknown or revoked API key", challenge)
            return None
        if needed not in key.scopes:
            challenge = f'{REALM}, error="insufficient_scope", scope="{needed.value}"'
            detail = f"this API key lacks the {needed.value} scope"
            await self._refuse(send, 403, "scope", detail, challenge)
            return None
        bucket, per_minute = f"{key.id}:{needed.value}", access.per_minute(key, needed)
        wait_s = await access.limiter.wait_s(bucket, per_minute)
        if wait_s > 0:
            self.limited.labels(needed.value).inc()
            retry = str(max(1, int(wait_s + 0.999)))
            detail = f"rate limit of this key for {needed.value} reached; retry in {retry} s"
            await send_problem(
                send, 429, "Too many requests", "rate-limited", detail, {"retry-after": retry}
            )
            return None
        return key

    async def _refuse(
        self, send: Send, status: int, reason: str, detail: str, challenge: str
    ) -> None:
        self.failures.labels(reason).inc()
        title, slug = (
            ("Unauthorized", "unauthorized") if status == 401 else ("Forbidden", "forbidden")
        )
        await send_problem(send, status, title, slug, detail, {"www-authenticate": challenge})


def _problem(description: str, **extra: Any) -> dict[str, Any]:
    content = {PROBLEM_JSON: {"schema": Problem.model_json_schema()}}
    return {"description": description, "content": content, **extra}


ACCESS_RESPONSES: dict[str, dict[str, Any]] = {
    "401": _problem("No API key, or an unknown or revoked one (WWW-Authenticate says which)"),
    "403": _problem("The API key lacks the scope of this route"),
    "429": _problem(
        "The key's rate limit is reached",
        headers={"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    ),
}


def _document(app: FastAPI) -> None:
    """The bearer scheme, each operation's scope and the 401/403/429 answers in OpenAPI."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["apiKey"] = {"type": "http", "scheme": "bearer", "description": "qpv keys create"}
        for path, operations in schema.get("paths", {}).items():
            needed = required_scope(path)
            if needed is None:
                continue
            for operation in operations.values():
                operation["security"] = [{"apiKey": []}]
                note = f"Needs an API key with the `{needed.value}` scope."
                operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
                operation.setdefault("responses", {}).update(ACCESS_RESPONSES)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """Add the access middleware (call before CORS, so that CORS wraps it) and its docs;
    an open service has nothing to check, so no layer at all."""
    if settings.open_access:
        return
    app.add_middleware(AccessMiddleware, metrics=metrics)
    _document(app)


def api_key_of(state: Any) -> ApiKey | None:
    """The key a request was let in with (None in open mode or on a public route)."""
    key: ApiKey | None = getattr(state, "api_key", None)
    return key
