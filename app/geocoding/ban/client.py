"""``BanGeocoder``: the Geocoder protocol over a BAN-compatible HTTP API.

Single queries go to ``GET /search``; bulk queries to ``POST /search/csv`` where the server
offers it, falling back to concurrent ``/search`` calls. ``geocode`` and ``geocode_many``
never raise for upstream trouble: they return ``GeocodeResult.error`` per query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx

from app.geocoding.ban import bulk
from app.geocoding.ban.breaker import CircuitBreaker
from app.geocoding.ban.errors import (
    RequestError,
    bad_response,
    content_type,
    internal_error,
    log_internal_error,
)
from app.geocoding.ban.parsing import parse_features
from app.geocoding.ban.query import Prepared, clamp_limit, prepare
from app.geocoding.ban.retry import RetryPolicy
from app.geocoding.ban.transport import Call, Transport, same_origin_only
from app.geocoding.base import (
    AddressQuery,
    Candidate,
    Capabilities,
    GeocodeErrorKind,
    GeocodeResult,
)
from app.logs import install_log_redaction

if TYPE_CHECKING:
    from app.settings import Settings

logger = logging.getLogger(__name__)


def _http_client(
    base_url: str,
    timeout: float,
    concurrency: int,
    transport: httpx.AsyncBaseTransport | None,
    user_agent: str,
) -> httpx.AsyncClient:
    """The connection pool of one geocoder, held to its origin."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        transport=transport,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        headers={"User-Agent": user_agent, "Accept": "application/json"},
        # Followed only within the configured origin (a path moved on the same server).
        follow_redirects=True,
        event_hooks={"request": [same_origin_only(base_url)]},
    )


class BanGeocoder:
    """Geocoder backed by a BAN-compatible HTTP API (``/search`` and ``/search/csv``)."""

    name = "ban"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        rate: float = 40.0,
        concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
        deadline: float | None = None,
        backoff_base: float = 0.25,
        backoff_max: float = 8.0,
        max_retry_after: float = 30.0,
        max_response_bytes: int = 32 << 20,
        bulk: bool = True,
        bulk_chunk_size: int = 1000,
        bulk_min_rows: int = 10,
        bulk_concurrency: int = 2,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        postcode_fallback: bool = True,
        user_agent: str = "qpv-service (+ban geocoder)",
    ) -> None:
        """Configure the client; no connection is made until the first query."""
        if timeout <= 0 or rate <= 0 or concurrency < 1 or retries < 0 or bulk_chunk_size < 1:
            raise ValueError(
                "need timeout, rate > 0; concurrency, bulk_chunk_size >= 1; retries >= 0"
            )
        install_log_redaction()
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._concurrency = concurrency
        self._retry = RetryPolicy(retries, backoff_base, backoff_max)
        # Worst case of a full retry budget, so that the deadline only cuts true hangs.
        self._deadline = (
            deadline
            if deadline is not None
            else timeout * (retries + 1) + self._retry.worst_case_backoff()
        )
        self._bulk = bulk
        self.capabilities = Capabilities(bulk=bulk)
        self._bulk_chunk_size = bulk_chunk_size
        self._bulk_min_rows = bulk_min_rows
        self._bulk_concurrency = max(1, min(bulk_concurrency, concurrency))
        self._postcode_fallback = postcode_fallback
        self._breaker = CircuitBreaker(breaker_threshold, breaker_cooldown)
        self._transport = Transport(
            _http_client(self.base_url, timeout, concurrency, transport, user_agent),
            concurrency=concurrency,
            rate=rate,
            max_retry_after=max_retry_after,
            max_response_bytes=max_response_bytes,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BanGeocoder:
        """Build from the service settings (``QPV_BAN_*``)."""
        kwargs: dict[str, Any] = {
            "timeout": settings.ban_timeout_s,
            "retries": settings.ban_max_retries,
            "rate": settings.ban_rate_per_s,
            "concurrency": settings.ban_concurrency,
            "max_response_bytes": settings.ban_max_response_bytes,
        }
        kwargs.update(overrides)
        return cls(settings.ban_url, **kwargs)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._transport.aclose()

    # ------------------------------------------------------------------ public API

    async def geocode(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        """Geocode one address with ``/search``; failures come back as ``result.error``."""
        prepared = prepare(query)
        if prepared is None:
            return GeocodeResult()
        return await self._search_one(prepared, clamp_limit(limit))

    async def geocode_many(
        self, queries: Sequence[AddressQuery], limit: int = 1
    ) -> list[GeocodeResult]:
        """Geocode many addresses, in order: ``/search/csv`` chunks, else parallel ``/search``."""
        limit = clamp_limit(limit)
        # Batches repeat addresses (one row per person, many per building): each distinct
        # query is sent once, which matters under a 50 requests/s quota.
        positions: dict[Prepared, list[int]] = {}
        for i, query in enumerate(queries):
            prepared = prepare(query)
            if prepared is not None:
                positions.setdefault(prepared, []).append(i)
        distinct = list(positions)
        results: list[GeocodeResult | None] = [None] * len(distinct)
        todo = list(enumerate(distinct))
        # The CSV endpoint returns only the best candidate per row, so it serves limit=1.
        if self._bulk and limit == 1 and len(todo) >= self._bulk_min_rows:
            todo = await self._bulk_search(todo, results)
        if todo:
            await self._search_pool(todo, limit, results)
        out = [GeocodeResult() for _ in queries]
        for prepared, result in zip(distinct, results, strict=True):
            for i in positions[prepared]:
                # A copy per row: candidates is a list, callers may edit it in place.
                out[i] = (
                    GeocodeResult(list(result.candidates), result.error, result.error_detail)
                    if result is not None
                    else internal_error("no result")
                )
        return out

    # ------------------------------------------------------------------ /search

    async def _search_one(self, prepared: Prepared, limit: int) -> GeocodeResult:
        try:
            candidates = await self._search_json(prepared.params(limit))
            if not candidates and prepared.postcode and self._postcode_fallback:
                # A wrong or CEDEX postcode filters every address out; the postcode stays in
                # the text, so BAN still weighs it without excluding the right commune.
                candidates = await self._search_json(prepared.params(limit, with_postcode=False))
        except RequestError as failure:
            return failure.result()
        except Exception as exc:  # never let a bug in parsing escape to a batch
            log_internal_error("BAN /search", exc)
            return internal_error(type(exc).__name__)
        return GeocodeResult(candidates=candidates[:limit])

    async def _search_json(self, params: dict[str, str | int]) -> list[Candidate]:
        response = await self._request(Call("GET", "/search", params=params))
        try:
            payload = response.json()
        except ValueError as exc:
            raise bad_response(f"/search returned invalid JSON ({content_type(response)})") from exc
        try:
            return parse_features(payload)
        except ValueError as exc:
            raise bad_response(f"/search returned an unexpected shape: {exc}") from exc

    async def _search_pool(
        self, items: list[bulk.Item], limit: int, results: list[GeocodeResult | None]
    ) -> None:
        # A fixed pool of workers rather than one task per row: memory stays flat on big
        # batches, and each request's deadline starts when a worker takes it, not when the
        # batch was submitted.
        queue = iter(items)

        async def worker() -> None:
            for index, prepared in queue:
                results[index] = await self._search_one(prepared, limit)

        await asyncio.gather(*(worker() for _ in range(min(self._concurrency, len(items)))))

    # ------------------------------------------------------------------ /search/csv

    async def _bulk_search(
        self, items: list[bulk.Item], results: list[GeocodeResult | None]
    ) -> list[bulk.Item]:
        """Geocode through /search/csv; return the rows still to do with /search."""
        size = self._bulk_chunk_size
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        leftover: list[bulk.Item] = []
        queue = iter(chunks)

        async def worker() -> None:
            for chunk in queue:
                if not self._bulk:
                    leftover.extend(chunk)
                    continue
                leftover.extend(await self._bulk_chunk(chunk, results))

        await asyncio.gather(*(worker() for _ in range(min(self._bulk_concurrency, len(chunks)))))
        leftover.sort(key=lambda item: item[0])
        return leftover

    async def _bulk_chunk(
        self, chunk: list[bulk.Item], results: list[GeocodeResult | None]
    ) -> list[bulk.Item]:
        """One /search/csv request; return the rows that need /search (all, on failure)."""
        body, form = bulk.encode_chunk(chunk)
        extra = bulk.SECONDS_PER_ROW * len(chunk)
        call = Call(
            "POST",
            "/search/csv",
            data=form,
            files={"data": ("addresses.csv", body, "text/csv")},
            timeout=self._timeout + extra,
        )
        try:
            response = await self._request(
                call,
                budget=self._deadline + extra * (self._retry.retries + 1),
                give_up_on=bulk.UNSUPPORTED_STATUS,
            )
            rows = bulk.decode_answer(response, len(chunk))
        except RequestError as failure:
            self._bulk_failed(failure, len(chunk))
            return chunk
        except Exception as exc:
            log_internal_error("BAN /search/csv", exc)
            return chunk
        return bulk.apply_rows(chunk, rows, results, postcode_fallback=self._postcode_fallback)

    def _bulk_failed(self, failure: RequestError, rows: int) -> None:
        if failure.status in bulk.UNSUPPORTED_STATUS:
            # Not an addok-csv server (e.g. a plain /search proxy): stop trying.
            self._bulk = False
            logger.info("BAN server has no /search/csv (HTTP %s); using /search", failure.status)
        else:
            logger.warning(
                "BAN /search/csv failed (%s: %s); %d rows fall back to /search",
                failure.kind.value,
                failure.detail,
                rows,
            )

    # ------------------------------------------------------------------ transport

    async def _request(
        self,
        call: Call,
        *,
        budget: float | None = None,
        give_up_on: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send with retries within the deadline, behind the circuit breaker."""
        self._breaker.check()
        budget = budget if budget is not None else self._deadline
        deadline = time.monotonic() + budget
        try:
            response = await self._retry.run(
                lambda: self._transport.send(call, deadline),
                budget=budget,
                give_up_on=give_up_on,
            )
        except RequestError as failure:
            if failure.status in give_up_on:
                raise
            # Only server-side trouble (what we would retry) says the upstream is down; a 400
            # or a 429 comes from a server that is up.
            if failure.retryable and failure.kind is not GeocodeErrorKind.RATE_LIMITED:
                self._breaker.failure(failure)
            logger.warning(
                "BAN %s %s failed: %s: %s",
                call.method,
                call.path,
                failure.kind.value,
                failure.detail,
            )
            raise
        self._breaker.success()
        return response
