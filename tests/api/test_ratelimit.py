"""Per-key rate limits on the real Redis: 429 with Retry-After, shared by replicas, fail open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.metrics import Metrics
from app.api.ratelimit import RateLimiter
from app.main import create_app
from app.settings import Settings
from tests.api.access_fixtures import add_key, bearer, closed_settings
from tests.jobs.conftest import JOBS_REDIS

POINT = "/v1/point?lat=48.88699&lon=2.35313"
SettingsOf = Callable[..., Settings]


@pytest.fixture
def settings_of(keyed_url: str, session_namespace: str, tmp_path: Path) -> SettingsOf:
    """Closed settings on the test's database, with updates."""

    def make(**update: object) -> Settings:
        return closed_settings(keyed_url, session_namespace, tmp_path, **update)

    return make


def test_a_key_past_its_own_rate_gets_a_429_problem_with_retry_after(
    keyed_url: str, settings_of: SettingsOf
) -> None:
    limited = bearer(add_key(keyed_url, "lookup", rate_per_min=3))
    other = bearer(add_key(keyed_url, "lookup"))
    with TestClient(create_app(settings_of())) as client:
        statuses = [client.get(POINT, headers=limited).status_code for _ in range(3)]
        refused = client.get(POINT, headers=limited)
        assert statuses == [200, 200, 200]
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/rate-limited")
        # one request every 20 s once the burst of 3 is spent
        assert 1 <= int(refused.headers["retry-after"]) <= 20
        assert client.get(POINT, headers=other).status_code == 200  # keys do not share
        assert 'qpv_ratelimit_rejected_total{scope="lookup"} 1.0' in client.get("/metrics").text


def test_the_scope_limits_of_the_settings_apply_per_scope_and_zero_means_none(
    keyed_url: str, settings_of: SettingsOf
) -> None:
    both = bearer(add_key(keyed_url, "lookup,batch"))
    settings = settings_of(rate_limits={"lookup": 2, "batch": 0})
    with TestClient(create_app(settings)) as client:
        lookups = [client.get(POINT, headers=both).status_code for _ in range(3)]
        jobs = [client.get("/v1/jobs/nope", headers=both).status_code for _ in range(5)]
    assert lookups == [200, 200, 429]
    assert jobs == [404] * 5


def test_two_replicas_share_one_limit_through_redis(
    keyed_url: str, settings_of: SettingsOf
) -> None:
    key = bearer(add_key(keyed_url, "lookup", rate_per_min=4))
    settings = settings_of()
    with (
        TestClient(create_app(settings)) as one,
        TestClient(create_app(settings)) as two,
    ):
        first = [one.get(POINT, headers=key).status_code for _ in range(2)]
        second = [two.get(POINT, headers=key).status_code for _ in range(2)]
        assert first + second == [200] * 4
        assert one.get(POINT, headers=key).status_code == 429
        assert two.get(POINT, headers=key).status_code == 429


def test_requests_go_through_unlimited_and_counted_when_redis_is_down(
    keyed_url: str, settings_of: SettingsOf
) -> None:
    key = bearer(add_key(keyed_url, "lookup", rate_per_min=1))
    settings = settings_of(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    with TestClient(create_app(settings)) as client:
        statuses = [client.get(POINT, headers=key).status_code for _ in range(4)]
        metrics = client.get("/metrics").text
    assert statuses == [200] * 4
    assert "qpv_ratelimit_unavailable_total 4.0" in metrics


def test_requests_taken_in_batches_never_exceed_the_limit_across_workers(
    session_namespace: str,
) -> None:
    async def run() -> tuple[int, float]:
        # Two workers' limiters on one bucket; 1,200 a minute: taken two at a time.
        limiters = [
            RateLimiter(JOBS_REDIS, f"{session_namespace}-batch", 0.25, Metrics()) for _ in range(2)
        ]
        started, allowed = time.monotonic(), 0
        for i in range(1500):
            allowed += await limiters[i % 2].wait_s("key", 1200) == 0
        elapsed = time.monotonic() - started
        for limiter in limiters:
            await limiter.aclose()
        return allowed, elapsed

    allowed, elapsed = asyncio.run(run())
    refilled = int(elapsed * 1200 / 60) + 1
    assert 1200 - 2 <= allowed <= 1200 + refilled  # the burst, less a lease's leftovers
