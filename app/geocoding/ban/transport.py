"""One HTTP exchange with a BAN server, under the concurrency and rate caps, classified."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from app.geocoding.ban.errors import RequestError
from app.geocoding.ban.ratelimit import RateLimit
from app.geocoding.ban.retry import parse_retry_after
from app.geocoding.base import GeocodeErrorKind

# Besides 5xx, the statuses worth sending again.
_RETRYABLE_STATUS = frozenset({408, 425, 429})


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """What to send: method, path under the base URL, parameters, form, files, read timeout."""

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    data: Mapping[str, Any] | None = None
    files: Mapping[str, Any] | None = None
    timeout: float | None = None


class Transport:
    """An HTTP client whose every exchange is capped and ends in a response or ``RequestError``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        concurrency: int,
        rate: float,
        max_retry_after: float,
        max_response_bytes: int = 32 << 20,
    ) -> None:
        self._client = client
        self._max_bytes = max_response_bytes
        self._semaphore = asyncio.Semaphore(concurrency)
        # A burst of at most one second's worth, and no more than the concurrency needs.
        self._rate = RateLimit(rate, burst=min(rate, float(concurrency)))
        self._max_retry_after = max_retry_after

    async def send(self, call: Call, deadline: float | None = None) -> httpx.Response:
        """One exchange; a 2xx response, else a classified ``RequestError``.

        ``deadline`` (``time.monotonic``): when the caller gives up; a server-requested pause
        that lasts past it fails the request at once (``rate_limited``).
        """
        async with self._semaphore:
            await self._rate.acquire(deadline)
            response = await self._exchange(call)
        failure = classify(response, self._max_retry_after)
        if failure is None:
            return response
        if failure.retry_after is not None:
            # The server asked this client to wait: every request sharing it waits.
            self._rate.pause_until(time.monotonic() + failure.retry_after)
        raise failure

    async def _exchange(self, call: Call) -> httpx.Response:
        try:
            request = self._client.build_request(
                call.method,
                call.path,
                params=call.params,
                data=call.data,
                files=call.files,
                timeout=httpx.Timeout(call.timeout)
                if call.timeout is not None
                else httpx.USE_CLIENT_DEFAULT,
            )
            response = await self._client.send(request, stream=True)
            try:
                await self._read_capped(response)
            finally:
                await response.aclose()
            return response
        except httpx.TimeoutException as exc:
            raise RequestError(
                GeocodeErrorKind.TIMEOUT, f"{type(exc).__name__}", retryable=True
            ) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            # Refused, reset or closed before a full answer: the server or the path to it is
            # down, maybe briefly.
            raise RequestError(
                GeocodeErrorKind.UNAVAILABLE, f"{type(exc).__name__}", retryable=True
            ) from exc
        except httpx.HTTPError as exc:
            # Bad URL scheme, too many redirects, decoding errors: not worth retrying.
            raise RequestError(GeocodeErrorKind.UPSTREAM, f"{type(exc).__name__}") from exc

    async def _read_capped(self, response: httpx.Response) -> None:
        """Read the (decoded) body, refusing it past the cap: one huge or endless answer must
        not take a worker's memory."""
        cap = self._max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdecimal() and int(declared) > cap:
            raise _too_large(cap)
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise _too_large(cap)
            chunks.append(chunk)
        # What ``Response.aread`` does, with the cap checked on the way.
        response._content = b"".join(chunks)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _too_large(cap: int) -> RequestError:
    return RequestError(GeocodeErrorKind.BAD_RESPONSE, f"answer larger than {cap} bytes, refused")


def same_origin_only(base_url: str) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook refusing any request (a redirect) off ``base_url``'s origin: the
    address would go to a host nobody configured."""
    origin = httpx.URL(base_url)
    allowed = (origin.scheme, origin.host, origin.port)

    async def check(request: httpx.Request) -> None:
        url = request.url
        if (url.scheme, url.host, url.port) != allowed:
            raise RequestError(
                GeocodeErrorKind.UPSTREAM,
                f"redirected off the configured origin (to {url.scheme}://{url.host}"
                f"{':' + str(url.port) if url.port else ''}), not followed",
            )

    return check


def classify(response: httpx.Response, max_retry_after: float) -> RequestError | None:
    """``None`` for a 2xx answer, else what went wrong and whether to try again."""
    status = response.status_code
    if response.is_success:
        return None
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None:
        retry_after = min(retry_after, max_retry_after)
    if status == 429:
        return RequestError(
            GeocodeErrorKind.RATE_LIMITED,
            "HTTP 429",
            retryable=True,
            retry_after=retry_after,
            status=status,
        )
    if status >= 500 or status in _RETRYABLE_STATUS:
        return RequestError(
            GeocodeErrorKind.UPSTREAM,
            f"HTTP {status}",
            retryable=True,
            retry_after=retry_after,
            status=status,
        )
    # Other 4xx: the request itself is refused (bad parameter, wrong base URL, missing API
    # key); repeating it cannot help.
    return RequestError(GeocodeErrorKind.UPSTREAM, f"HTTP {status}", status=status)
