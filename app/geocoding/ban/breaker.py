"""A circuit breaker: fail fast while the upstream is down, so a batch does not wait out
every request's deadline."""

from __future__ import annotations

import time

from app.geocoding.ban.errors import RequestError


class CircuitBreaker:
    """Opens after ``threshold`` requests in a row failed for good; closes after ``cooldown``."""

    def __init__(self, threshold: int, cooldown: float) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._failures = 0
        self._open_until = 0.0
        self._cause: RequestError | None = None

    def check(self) -> None:
        """Raise the failure that opened the circuit while it is open."""
        if self._cause is not None and time.monotonic() < self._open_until:
            raise RequestError(
                self._cause.kind,
                f"circuit open after {self._failures} consecutive failures "
                f"(last: {self._cause.detail})",
            )

    def success(self) -> None:
        """Close the circuit."""
        self._failures = 0
        self._cause = None

    def failure(self, failure: RequestError) -> None:
        """Count one request that failed for good; open the circuit at the threshold."""
        self._failures += 1
        if self._threshold and self._failures >= self._threshold:
            self._cause = failure
            self._open_until = time.monotonic() + self._cooldown
