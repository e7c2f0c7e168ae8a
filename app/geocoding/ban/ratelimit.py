"""The rate cap shared by every request of one client: aiolimiter's leaky bucket, pausable."""

from __future__ import annotations

import asyncio
import time

from aiolimiter import AsyncLimiter

from app.geocoding.ban.errors import RequestError
from app.geocoding.base import GeocodeErrorKind


class RateLimit:
    """At most ``rate`` requests per second after a burst of ``burst``; a 429 pauses it."""

    def __init__(self, rate: float, burst: float) -> None:
        burst = max(1.0, burst)
        # A bucket of ``burst`` units that drains at ``rate`` units per second.
        self._limiter = AsyncLimiter(burst, burst / rate)
        self._paused_until = 0.0

    def pause_until(self, when: float) -> None:
        """Let no request through before ``when`` (``time.monotonic`` clock)."""
        self._paused_until = max(self._paused_until, when)

    async def acquire(self, deadline: float | None = None) -> None:
        """Wait for the pause to end and for room in the bucket; a request whose deadline
        (``time.monotonic``) comes before the pause ends fails at once as rate limited."""
        while True:
            while (wait := self._paused_until - time.monotonic()) > 0:
                if deadline is not None and self._paused_until > deadline:
                    # Waiting would only end in a timeout that hides the cause, and keep
                    # the caller waiting for nothing.
                    raise RequestError(
                        GeocodeErrorKind.RATE_LIMITED,
                        f"the BAN server asked to wait {wait:.1f} s more (Retry-After), "
                        "past this request's deadline",
                    )
                await asyncio.sleep(wait)
            await self._limiter.acquire()
            # A 429 may have come back while this request waited in the bucket.
            if time.monotonic() >= self._paused_until:
                return
