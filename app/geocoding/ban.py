"""The ``ban`` provider: any BAN-compatible HTTP API (API Adresse, IGN Géoplateforme, addok).

Single queries go to ``GET /search``; bulk queries to ``POST /search/csv`` where the server
offers it, falling back to concurrent ``/search`` calls. Every request is bounded (timeouts,
a retry budget, an overall deadline), throttled (a concurrency cap and a token-bucket rate
cap shared by all callers of one instance) and fails per query: ``geocode`` and
``geocode_many`` never raise for upstream trouble, they return ``GeocodeResult.error``.

Privacy: addresses never reach logs or ``error_detail``; only status codes, error kinds,
counts and exception class names do (exception messages may embed the request URL).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import email.utils
import io
import logging
import math
import random
import time
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx

from app.codes import is_insee_code, is_postcode
from app.geocoding.base import (
    AddressQuery,
    Candidate,
    GeocodeErrorKind,
    GeocodeResult,
    MatchType,
)

if TYPE_CHECKING:
    from app.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["BanGeocoder"]

# BAN (addok) rejects queries shorter than 3 characters and longer than 200.
_MIN_QUERY_LEN = 3
_MAX_QUERY_LEN = 200
_MAX_LIMIT = 100
# Servers without the CSV endpoint answer one of these; anything else is a transient or
# per-chunk failure and does not disable bulk mode for the rest of the instance's life.
_BULK_UNSUPPORTED_STATUS = frozenset({404, 405, 501})
_RETRYABLE_STATUS = frozenset({408, 425, 429})
# Column names of the CSV we send; prefixed so that they never clash with result_* columns.
_COL_ROW, _COL_Q, _COL_POSTCODE, _COL_CITYCODE = "qpv_row", "qpv_q", "qpv_postcode", "qpv_citycode"
# Extra read time granted to a /search/csv request per row it carries (addok needs a few ms
# per row; the public API is slower under load).
_BULK_SECONDS_PER_ROW = 0.02


class _RedactQueryFilter(logging.Filter):
    """Strip query strings from httpx's request log lines: they carry the address (``q=``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


def _install_log_redaction() -> None:
    # httpx logs every request URL at INFO; a service running at INFO would otherwise write
    # addresses to its logs. Installed once, on the logger httpx uses for that line.
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactQueryFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactQueryFilter())


_install_log_redaction()


class _RequestError(Exception):
    """A classified failure of one request: safe to show (no address), maybe retryable."""

    def __init__(
        self,
        kind: GeocodeErrorKind,
        detail: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status

    def result(self) -> GeocodeResult:
        """This failure as a per-query result."""
        return GeocodeResult(error=self.kind, error_detail=self.detail)


@dataclasses.dataclass(frozen=True, slots=True)
class _Prepared:
    """A query reduced to what BAN takes: the text and the optional filters."""

    q: str
    postcode: str | None
    citycode: str | None
    type: str | None

    def params(self, limit: int, *, with_postcode: bool = True) -> dict[str, str | int]:
        params: dict[str, str | int] = {"q": self.q, "limit": limit, "autocomplete": 0}
        if self.postcode and with_postcode:
            params["postcode"] = self.postcode
        if self.citycode:
            params["citycode"] = self.citycode
        if self.type:
            params["type"] = self.type
        return params


def _prepare(query: AddressQuery) -> _Prepared | None:
    """Normalise one query; ``None`` when there is nothing a search engine could match."""
    # Collapse whitespace (newlines would also break the CSV), and drop leading/trailing
    # punctuation: BAN requires the query to start with a letter or a digit.
    text = " ".join(query.text().split()).strip(" \t,;:.-_/\\'\"()[]#*")
    if len(text) < _MIN_QUERY_LEN:
        return None
    if len(text) > _MAX_QUERY_LEN:
        # Longer queries are rejected outright (400/413); the address part is nearly always
        # at the start, so keep the first 200 characters, cut on a word boundary.
        cut = text[:_MAX_QUERY_LEN]
        text = cut.rsplit(" ", 1)[0] if " " in cut else cut
    postcode = (query.code_postal or "").strip()
    citycode = (query.citycode or "").strip().upper()
    only_commune = not query.q and not query.voie and not query.numero
    return _Prepared(
        q=text,
        postcode=postcode if is_postcode(postcode) else None,
        citycode=citycode if is_insee_code(citycode) else None,
        # Restrict to communes only when the caller gave nothing finer; a house number
        # query keeps every type so that BAN can fall back to the street.
        type=MatchType.MUNICIPALITY.value if only_commune else None,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class _TokenBucket:
    """Rate cap shared by all requests of one geocoder; can be paused after a 429."""

    def __init__(self, rate: float, burst: float) -> None:
        self._rate = rate
        self._burst = max(1.0, burst)
        self._tokens = self._burst
        self._updated = time.monotonic()
        self._paused_until = 0.0
        # One waiter at a time, in arrival order (asyncio.Lock is FIFO): fair and simple.
        self._lock = asyncio.Lock()

    def pause_until(self, when: float) -> None:
        """Let no request through before ``when`` (monotonic clock)."""
        self._paused_until = max(self._paused_until, when)

    async def acquire(self) -> None:
        """Wait for one token."""
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
                self._updated = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self._rate)


class _Breaker:
    """Fail fast while the upstream is down, so a batch does not wait out every deadline."""

    def __init__(self, threshold: int, cooldown: float) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._failures = 0
        self._open_until = 0.0
        self._cause: _RequestError | None = None

    def check(self) -> None:
        """Raise the failure that opened the circuit while it is open."""
        if self._cause is not None and time.monotonic() < self._open_until:
            raise _RequestError(
                self._cause.kind,
                f"circuit open after {self._failures} consecutive failures "
                f"(last: {self._cause.detail})",
            )

    def success(self) -> None:
        """Close the circuit."""
        self._failures = 0
        self._cause = None

    def failure(self, failure: _RequestError) -> None:
        """Count one request that failed for good; open the circuit at the threshold."""
        self._failures += 1
        if self._threshold and self._failures >= self._threshold:
            self._cause = failure
            self._open_until = time.monotonic() + self._cooldown


def _float(value: Any) -> float | None:
    """A finite float from a JSON or CSV value, else ``None``."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _str(value: Any) -> str | None:
    """A non-empty string from a JSON or CSV value, else ``None``."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def _match_type(value: Any) -> MatchType | None:
    try:
        return MatchType(str(value))
    except ValueError:
        return None


def _candidate(
    *,
    label: Any,
    score: Any,
    type_: MatchType,
    lon: Any,
    lat: Any,
    name: Any,
    street: Any,
    housenumber: Any,
    postcode: Any,
    citycode: Any,
    city: Any,
    id_: Any,
) -> Candidate:
    """Build and validate one candidate; raise ``ValueError`` when a required field is bad."""
    x, y, s = _float(lon), _float(lat), _float(score)
    if x is None or y is None or not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        raise ValueError("bad coordinates")
    if s is None:
        raise ValueError("bad score")
    name_s = _str(name)
    label_s = _str(label) or name_s
    if label_s is None:
        raise ValueError("no label")
    # addok only fills ``street`` on house numbers; on a street, the name is the street.
    street_s = _str(street) or (name_s if type_ is MatchType.STREET else None)
    return Candidate(
        label=label_s,
        score=min(1.0, max(0.0, s)),
        type=type_,
        lon=x,
        lat=y,
        citycode=_str(citycode),
        postcode=_str(postcode),
        city=_str(city),
        street=street_s,
        housenumber=_str(housenumber) if type_ is MatchType.HOUSENUMBER else None,
        id=_str(id_),
    )


def parse_features(payload: Any) -> list[Candidate]:
    """Candidates from a BAN GeoJSON FeatureCollection; ``ValueError`` on a wrong shape."""
    if not isinstance(payload, Mapping):
        raise ValueError("not a JSON object")
    features = payload.get("features")
    if not isinstance(features, list):
        raise ValueError("no features list")
    candidates: list[Candidate] = []
    for feature in features:
        if not isinstance(feature, Mapping):
            raise ValueError("feature is not an object")
        props = feature.get("properties")
        geometry = feature.get("geometry")
        if not isinstance(props, Mapping) or not isinstance(geometry, Mapping):
            raise ValueError("feature without properties or geometry")
        coords = geometry.get("coordinates")
        if not isinstance(coords, list) or len(coords) < 2:
            raise ValueError("feature without point coordinates")
        type_ = _match_type(props.get("type"))
        if type_ is None:
            # A type this service does not know (a future BAN addition, or a POI index on
            # Géoplateforme): skip it rather than fail the whole answer.
            continue
        name = props.get("name")
        street = props.get("street")
        if type_ is MatchType.HOUSENUMBER and not _str(street):
            # Some servers omit ``street`` on house numbers; ``name`` is then "12 Rue X".
            hn = _str(props.get("housenumber")) or ""
            name_s = _str(name) or ""
            street = name_s[len(hn) :].strip() if hn and name_s.startswith(hn) else None
        candidates.append(
            _candidate(
                label=props.get("label"),
                score=props.get("score"),
                type_=type_,
                lon=coords[0],
                lat=coords[1],
                name=name,
                street=street,
                housenumber=props.get("housenumber"),
                postcode=props.get("postcode"),
                citycode=props.get("citycode"),
                city=props.get("city"),
                id_=props.get("id"),
            )
        )
    # Servers already rank by score; a stable sort keeps that order on ties.
    candidates.sort(key=lambda c: c.score, reverse=True)
    return candidates


def _csv_row_result(row: Mapping[str, str | None]) -> GeocodeResult:
    """One row of a /search/csv answer as a result (empty when BAN found nothing)."""
    status = (row.get("result_status") or "").strip()
    if status == "error":
        return GeocodeResult(error=GeocodeErrorKind.UPSTREAM, error_detail="row failed upstream")
    type_raw = (row.get("result_type") or "").strip()
    if not type_raw:
        return GeocodeResult()
    type_ = _match_type(type_raw)
    if type_ is None:
        return GeocodeResult()
    candidate = _candidate(
        label=row.get("result_label"),
        score=row.get("result_score"),
        type_=type_,
        lon=row.get("longitude"),
        lat=row.get("latitude"),
        name=row.get("result_name"),
        street=row.get("result_street")
        or (row.get("result_name") if type_ is MatchType.HOUSENUMBER else None),
        housenumber=row.get("result_housenumber"),
        postcode=row.get("result_postcode"),
        citycode=row.get("result_citycode"),
        city=row.get("result_city"),
        id_=row.get("result_id"),
    )
    return GeocodeResult(candidates=[candidate])


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
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._retries = retries
        self._concurrency = concurrency
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_retry_after = max_retry_after
        # Worst case of a full retry budget, so that the deadline only cuts true hangs.
        backoffs = sum(min(backoff_max, backoff_base * 2**i) for i in range(retries))
        self._deadline = deadline if deadline is not None else timeout * (retries + 1) + backoffs
        self._bulk = bulk
        self._bulk_chunk_size = bulk_chunk_size
        self._bulk_min_rows = bulk_min_rows
        self._bulk_concurrency = max(1, min(bulk_concurrency, concurrency))
        self._postcode_fallback = postcode_fallback
        self._semaphore = asyncio.Semaphore(concurrency)
        # A burst of at most one second's worth, and no more than the concurrency needs.
        self._bucket = _TokenBucket(rate, burst=min(rate, float(concurrency)))
        self._breaker = _Breaker(breaker_threshold, breaker_cooldown)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            follow_redirects=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BanGeocoder:
        """Build from the service settings (``QPV_BAN_*``)."""
        kwargs: dict[str, Any] = {
            "timeout": settings.ban_timeout_s,
            "retries": settings.ban_max_retries,
            "rate": settings.ban_rate_per_s,
            "concurrency": settings.ban_concurrency,
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
        await self._client.aclose()

    # ------------------------------------------------------------------ public API

    async def geocode(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        """Geocode one address with ``/search``; failures come back as ``result.error``."""
        prepared = _prepare(query)
        if prepared is None:
            return GeocodeResult()
        return await self._search_one(prepared, _clamp_limit(limit))

    async def geocode_many(
        self, queries: Sequence[AddressQuery], limit: int = 1
    ) -> list[GeocodeResult]:
        """Geocode many addresses, in order: ``/search/csv`` chunks, else parallel ``/search``."""
        limit = _clamp_limit(limit)
        # Batches repeat addresses (one row per person, many per building): each distinct
        # query is sent once, which matters under a 50 requests/s quota.
        positions: dict[_Prepared, list[int]] = {}
        out: list[GeocodeResult | None] = [None] * len(queries)
        for i, query in enumerate(queries):
            prepared = _prepare(query)
            if prepared is None:
                out[i] = GeocodeResult()
            else:
                positions.setdefault(prepared, []).append(i)
        distinct = list(positions)
        results: list[GeocodeResult | None] = [None] * len(distinct)
        todo = list(enumerate(distinct))

        # The CSV endpoint returns only the best candidate per row, so it serves limit=1.
        if self._bulk and limit == 1 and len(todo) >= self._bulk_min_rows:
            todo = await self._bulk_search(todo, results)
        if todo:
            await self._search_pool(todo, limit, results)

        for prepared, result in zip(distinct, results, strict=True):
            for i in positions[prepared]:
                # A copy per row: candidates is a list, callers may edit it in place.
                out[i] = (
                    GeocodeResult(list(result.candidates), result.error, result.error_detail)
                    if result is not None
                    else _internal_error("no result")
                )
        return [r if r is not None else _internal_error("no result") for r in out]

    # ------------------------------------------------------------------ /search

    async def _search_one(self, prepared: _Prepared, limit: int) -> GeocodeResult:
        try:
            candidates = await self._search_json(prepared.params(limit))
            if not candidates and prepared.postcode and self._postcode_fallback:
                # A wrong or CEDEX postcode filters every address out; the postcode stays in
                # the text, so BAN still weighs it without excluding the right commune.
                candidates = await self._search_json(prepared.params(limit, with_postcode=False))
        except _RequestError as failure:
            return failure.result()
        except Exception as exc:  # never let a bug in parsing escape to a batch
            _log_internal_error("BAN /search", exc)
            return _internal_error(type(exc).__name__)
        return GeocodeResult(candidates=candidates[:limit])

    async def _search_json(self, params: dict[str, str | int]) -> list[Candidate]:
        response = await self._request("GET", "/search", params=params)
        try:
            payload = response.json()
        except ValueError as exc:
            raise _RequestError(
                GeocodeErrorKind.BAD_RESPONSE, f"/search returned invalid JSON ({_ctype(response)})"
            ) from exc
        try:
            return parse_features(payload)
        except ValueError as exc:
            raise _RequestError(
                GeocodeErrorKind.BAD_RESPONSE, f"/search returned an unexpected shape: {exc}"
            ) from exc

    async def _search_pool(
        self,
        items: list[tuple[int, _Prepared]],
        limit: int,
        results: list[GeocodeResult | None],
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
        self, items: list[tuple[int, _Prepared]], results: list[GeocodeResult | None]
    ) -> list[tuple[int, _Prepared]]:
        """Geocode through /search/csv; return the rows still to do with /search."""
        chunks = [
            items[i : i + self._bulk_chunk_size]
            for i in range(0, len(items), self._bulk_chunk_size)
        ]
        leftover: list[tuple[int, _Prepared]] = []
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
        self, chunk: list[tuple[int, _Prepared]], results: list[GeocodeResult | None]
    ) -> list[tuple[int, _Prepared]]:
        """One /search/csv request; return the rows that need /search (all, on failure)."""
        body, form = _bulk_request(chunk)
        timeout = self._timeout + _BULK_SECONDS_PER_ROW * len(chunk)
        try:
            response = await self._request(
                "POST",
                "/search/csv",
                data=form,
                files={"data": ("addresses.csv", body, "text/csv")},
                timeout=timeout,
                deadline=self._deadline + (timeout - self._timeout) * (self._retries + 1),
                unsupported=_BULK_UNSUPPORTED_STATUS,
            )
            rows = _parse_bulk_response(response, len(chunk))
        except _RequestError as failure:
            if failure.status in _BULK_UNSUPPORTED_STATUS:
                # Not an addok-csv server (e.g. a plain /search proxy): stop trying.
                self._bulk = False
                logger.info(
                    "BAN server has no /search/csv (HTTP %s); using /search", failure.status
                )
            else:
                logger.warning(
                    "BAN /search/csv failed (%s: %s); %d rows fall back to /search",
                    failure.kind.value,
                    failure.detail,
                    len(chunk),
                )
            return chunk
        except Exception as exc:
            _log_internal_error("BAN /search/csv", exc)
            return chunk

        leftover: list[tuple[int, _Prepared]] = []
        for (index, prepared), row in zip(chunk, rows, strict=True):
            try:
                result = _csv_row_result(row)
            except ValueError as exc:
                result = GeocodeResult(
                    error=GeocodeErrorKind.BAD_RESPONSE,
                    error_detail=f"/search/csv row has {exc}",
                )
            if (
                not result.candidates
                and result.error is None
                and prepared.postcode
                and self._postcode_fallback
            ):
                # Same rescue as _search_one: search again, without the postcode filter.
                leftover.append((index, dataclasses.replace(prepared, postcode=None)))
            else:
                results[index] = result
        return leftover

    # ------------------------------------------------------------------ transport

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        unsupported: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send with retries within the overall deadline; a 2xx response or ``_RequestError``."""
        self._breaker.check()
        budget = deadline if deadline is not None else self._deadline
        end = time.monotonic() + budget
        last: _RequestError | None = None
        attempts = 0
        try:
            async with asyncio.timeout(budget):
                while True:
                    attempts += 1
                    try:
                        response = await self._attempt(
                            method, path, params=params, data=data, files=files, timeout=timeout
                        )
                    except _RequestError as failure:
                        last = failure
                    else:
                        self._breaker.success()
                        return response
                    if last.status in unsupported or not last.retryable:
                        break
                    if attempts > self._retries:
                        break
                    delay = self._retry_delay(attempts, last.retry_after)
                    if last.retry_after is not None:
                        # Everyone sharing this client waits, not just this request.
                        self._bucket.pause_until(time.monotonic() + delay)
                    if time.monotonic() + delay >= end:
                        # Sleeping would overrun the deadline: report the real cause now.
                        break
                    await asyncio.sleep(delay)
        except TimeoutError:
            cause = f"; last: {last.detail}" if last else ""
            last = _RequestError(
                GeocodeErrorKind.TIMEOUT,
                f"deadline of {budget:g} s exceeded after {attempts} attempt(s){cause}",
                retryable=True,
            )
            attempts = 1  # the count is already in the detail
        assert last is not None
        if attempts > 1:
            last = _RequestError(
                last.kind,
                f"{last.detail} (after {attempts} attempts)",
                retryable=last.retryable,
                status=last.status,
            )
        if last.status in unsupported:
            raise last
        # Only server-side trouble (what we would retry) says the upstream is down; a 400
        # or a 429 comes from a server that is up.
        if last.retryable and last.kind is not GeocodeErrorKind.RATE_LIMITED:
            self._breaker.failure(last)
        logger.warning("BAN %s %s failed: %s: %s", method, path, last.kind.value, last.detail)
        raise last

    async def _attempt(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        data: Mapping[str, Any] | None,
        files: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> httpx.Response:
        """One HTTP exchange under the concurrency and rate caps; classify what went wrong."""
        async with self._semaphore:
            await self._bucket.acquire()
            try:
                response = await self._client.request(
                    method,
                    path,
                    params=params,
                    data=data,
                    files=files,
                    timeout=httpx.Timeout(timeout)
                    if timeout is not None
                    else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TimeoutException as exc:
                raise _RequestError(
                    GeocodeErrorKind.TIMEOUT, f"{type(exc).__name__}", retryable=True
                ) from exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                # Refused, reset or closed before a full answer: the server or the path to
                # it is down, maybe briefly.
                raise _RequestError(
                    GeocodeErrorKind.UNAVAILABLE, f"{type(exc).__name__}", retryable=True
                ) from exc
            except httpx.HTTPError as exc:
                # Bad URL scheme, too many redirects, decoding errors: not worth retrying.
                raise _RequestError(GeocodeErrorKind.UPSTREAM, f"{type(exc).__name__}") from exc
        status = response.status_code
        if response.is_success:
            return response
        if status == 429:
            raise _RequestError(
                GeocodeErrorKind.RATE_LIMITED,
                "HTTP 429",
                retryable=True,
                retry_after=self._retry_after(response),
                status=status,
            )
        if status >= 500 or status in _RETRYABLE_STATUS:
            raise _RequestError(
                GeocodeErrorKind.UPSTREAM,
                f"HTTP {status}",
                retryable=True,
                retry_after=self._retry_after(response),
                status=status,
            )
        # Other 4xx: the request itself is refused (bad parameter, wrong base URL, missing
        # API key); repeating it cannot help.
        raise _RequestError(GeocodeErrorKind.UPSTREAM, f"HTTP {status}", status=status)

    def _retry_after(self, response: httpx.Response) -> float | None:
        seconds = parse_retry_after(response.headers.get("Retry-After"))
        return None if seconds is None else min(seconds, self._max_retry_after)

    def _retry_delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds before the next attempt: Retry-After when given, else backoff + jitter."""
        if retry_after is not None:
            # A little jitter on top, never below what the server asked: clients throttled
            # together should not come back in the same millisecond.
            return retry_after + random.uniform(0.0, min(0.25, 0.1 * retry_after))
        ceiling = min(self._backoff_max, self._backoff_base * 2 ** (attempts - 1))
        return random.uniform(ceiling / 2, ceiling)


def _clamp_limit(limit: int) -> int:
    return max(1, min(_MAX_LIMIT, int(limit)))


def _ctype(response: httpx.Response) -> str:
    ctype: str = response.headers.get("Content-Type", "no content type")
    return ctype.split(";")[0]


def _log_internal_error(where: str, exc: Exception) -> None:
    # The frames (file, line, code) but not the message: a message may quote the data.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("%s internal error %s\n%s", where, type(exc).__name__, frames)


def _internal_error(name: str) -> GeocodeResult:
    return GeocodeResult(error=GeocodeErrorKind.UPSTREAM, error_detail=f"internal error: {name}")


def _bulk_request(chunk: list[tuple[int, _Prepared]]) -> tuple[bytes, dict[str, Any]]:
    """The CSV body and form fields of one /search/csv request."""
    has_postcode = any(p.postcode for _, p in chunk)
    has_citycode = any(p.citycode for _, p in chunk)
    header = [_COL_ROW, _COL_Q]
    if has_postcode:
        header.append(_COL_POSTCODE)
    if has_citycode:
        header.append(_COL_CITYCODE)
    out = io.StringIO()
    # Quote everything: addok sniffs the dialect, and quoted fields make that unambiguous.
    writer = csv.writer(out, delimiter=",", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    for row_number, (_, prepared) in enumerate(chunk):
        row = [str(row_number), prepared.q]
        if has_postcode:
            row.append(prepared.postcode or "")
        if has_citycode:
            row.append(prepared.citycode or "")
        writer.writerow(row)
    form: dict[str, Any] = {"columns": [_COL_Q], "delimiter": ","}
    if has_postcode:
        form["postcode"] = _COL_POSTCODE
    if has_citycode:
        form["citycode"] = _COL_CITYCODE
    return out.getvalue().encode("utf-8"), form


def _parse_bulk_response(response: httpx.Response, expected: int) -> list[dict[str, str | None]]:
    """The answer's rows, in the order sent; ``_RequestError`` when it is not the expected CSV."""

    def bad(why: str) -> _RequestError:
        return _RequestError(GeocodeErrorKind.BAD_RESPONSE, f"/search/csv {why}")

    try:
        text = response.content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise bad("answer is not UTF-8") from exc
    first_line = text.split("\n", 1)[0]
    if _COL_ROW not in first_line:
        raise bad(f"answer is not the expected CSV ({_ctype(response)})")
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=",;\t|")
    except csv.Error as exc:
        raise bad("answer has an unknown CSV dialect") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    by_row: dict[int, dict[str, str | None]] = {}
    try:
        for row in reader:
            try:
                number = int(row.get(_COL_ROW) or "")
            except ValueError as exc:
                raise bad("row without a valid row number") from exc
            by_row[number] = row
    except csv.Error as exc:
        raise bad("answer is not valid CSV") from exc
    if set(by_row) != set(range(expected)):
        raise bad(f"answer has {len(by_row)} rows for {expected} sent")
    return [by_row[i] for i in range(expected)]
