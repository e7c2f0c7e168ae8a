"""Retries with backoff (tenacity), honouring ``Retry-After``, within an overall deadline."""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import math
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from app.geocoding.ban.errors import RequestError
from app.geocoding.base import GeocodeErrorKind

T = TypeVar("T")


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


class _WaitRetryAfter(wait_base):
    """What the server asked (``Retry-After``) with a little jitter, else ``backoff``."""

    def __init__(self, backoff: wait_base) -> None:
        self._backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        asked = failure.retry_after if isinstance(failure, RequestError) else None
        if asked is None:
            backoff: float = self._backoff(retry_state)
            return backoff
        # Never below what the server asked: clients throttled together should not all come
        # back in the same millisecond.
        return asked + random.uniform(0.0, min(0.25, 0.1 * asked))


@dataclasses.dataclass(slots=True)
class _Tally:
    attempts: int = 0
    last: RequestError | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to ``retries`` more attempts of a retryable failure, exponential backoff with jitter."""

    retries: int
    backoff_base: float
    backoff_max: float

    def worst_case_backoff(self) -> float:
        """Seconds slept by a full retry budget without ``Retry-After``, at most."""
        return sum(min(self.backoff_max, self.backoff_base * 2.0**i) for i in range(self.retries))

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        budget: float,
        give_up_on: frozenset[int] = frozenset(),
    ) -> T:
        """Call ``attempt`` until it succeeds or the budget is spent; raise the real cause."""
        tally = _Tally()

        async def counted() -> T:
            tally.attempts += 1
            try:
                return await attempt()
            except RequestError as failure:
                tally.last = failure
                raise

        try:
            async with asyncio.timeout(budget):
                result: T = await self._retrying(budget, give_up_on)(counted)
                return result
        except TimeoutError:
            cause = f"; last: {tally.last.detail}" if tally.last else ""
            raise RequestError(
                GeocodeErrorKind.TIMEOUT,
                f"deadline of {budget:g} s exceeded after {tally.attempts} attempt(s){cause}",
                retryable=True,
            ) from None
        except RequestError as failure:
            if tally.attempts <= 1:
                raise
            raise RequestError(
                failure.kind,
                f"{failure.detail} (after {tally.attempts} attempts)",
                retryable=failure.retryable,
                status=failure.status,
            ) from failure

    def _retrying(self, budget: float, give_up_on: frozenset[int]) -> AsyncRetrying:
        # Equal jitter: half the exponential step for sure, the other half at random.
        half_base, half_max = self.backoff_base / 2, self.backoff_max / 2
        backoff = wait_exponential(multiplier=half_base, max=half_max) + wait_random_exponential(
            multiplier=half_base, max=half_max
        )
        return AsyncRetrying(
            # Stop before a sleep that would overrun the deadline: report the real cause now.
            stop=stop_after_attempt(self.retries + 1) | stop_before_delay(budget),
            wait=_WaitRetryAfter(backoff),
            retry=retry_if_exception(
                lambda exc: (
                    isinstance(exc, RequestError) and exc.retryable and exc.status not in give_up_on
                )
            ),
            reraise=True,
        )
