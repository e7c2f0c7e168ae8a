"""Prometheus metrics: requests per route template, lookups per status, geocoder calls.

With ``QPV_METRICS_DIR`` the workers of one server write to shared files (prometheus-client's
multiprocess mode) and ``/metrics`` adds them up; labels never carry user input.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from app.errors import UpstreamError
from app.geocoding.base import AddressQuery, Geocoder, GeocodeResult
from app.jobs.service import Jobs, QueueStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Consecutive failed calls after which a geocoder counts as down in /readyz.
DOWN_AFTER = 3


class _ProcessId:
    """This process's id, for prometheus-client's files, without a system call per update.

    prometheus-client compares the pid on every update to notice a fork (4 getpid calls per
    request); it changes only in a forked child, where the hook below updates it.
    """

    pid = -1

    @classmethod
    def get(cls) -> int:
        """The current process's id."""
        if cls.pid < 0:
            cls.pid = os.getpid()
            os.register_at_fork(after_in_child=cls._forked)
        return cls.pid

    @classmethod
    def _forked(cls) -> None:
        cls.pid = os.getpid()


class Metrics:
    """The service's metrics, in this process or shared by the workers of one server."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        if multiprocess_dir is not None:
            multiprocess_dir.mkdir(parents=True, exist_ok=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(multiprocess_dir)
            # prometheus-client picks its value class at import: switch it now.
            values.ValueClass = values.MultiProcessValue(_ProcessId.get)  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "qpv_http_requests",
            "HTTP requests by method, route template and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "qpv_http_request_duration_seconds",
            "HTTP request duration by method and route template",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lookups = Counter(
            "qpv_lookups",
            "Answers by kind (point, address) and status",
            ("kind", "status"),
            registry=self.registry,
        )
        self.geocoder_calls = Counter(
            "qpv_geocoder_calls",
            "Geocoder calls by provider and method",
            ("provider", "method"),
            registry=self.registry,
        )
        self.geocoder_errors = Counter(
            "qpv_geocoder_errors",
            "Geocoder errors by provider and kind",
            ("provider", "kind"),
            registry=self.registry,
        )
        self._access_counters()
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._lookup_children: dict[tuple[str, str], Any] = {}

    def _access_counters(self) -> None:
        """Refusals by access control and rate limits, and reloads."""
        self.auth_failures = Counter(
            "qpv_auth_failures",
            "Requests refused by access control, by reason (missing, invalid, scope)",
            ("reason",),
            registry=self.registry,
        )
        self.ratelimit_rejected = Counter(
            "qpv_ratelimit_rejected",
            "Requests refused with 429, by scope",
            ("scope",),
            registry=self.registry,
        )
        self.ratelimit_unavailable = Counter(
            "qpv_ratelimit_unavailable",
            "Requests let through unchecked because Redis did not answer (fail open)",
            registry=self.registry,
        )
        self.reloads = Counter(
            "qpv_reloads",
            "Reloads of the reference data by this server's workers, by outcome",
            ("outcome",),
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (children cached: this runs on every request)."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_lookup(self, kind: str, status: str) -> None:
        """Count one answer of ``kind`` with its status."""
        child = self._lookup_children.get((kind, status))
        if child is None:
            child = self._lookup_children[kind, status] = self.lookups.labels(kind, status)
        child.inc()

    def render(self) -> bytes:
        """The exposition text: this process's metrics, or every worker's added up."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def count_lookup(request: Request, kind: str, status: str) -> None:
    """Count one answer of ``kind`` with its status (no-op in an app without metrics)."""
    metrics: Metrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.count_lookup(kind, status)


class MeteredGeocoder:
    """A geocoder whose calls and errors are counted per provider; tells if it looks down."""

    def __init__(self, inner: Geocoder, metrics: Metrics) -> None:
        self.inner = inner
        self.name = inner.name
        # Said here, not only reachable through __getattr__: callers read it (result,
        # street_points and the like are forwarded below).
        self.capabilities = inner.capabilities
        self.consecutive_failures = 0
        self._calls = metrics.geocoder_calls
        self._errors = metrics.geocoder_errors

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # result, street_points, street_count...

    @property
    def down(self) -> bool:
        """Whether the last calls all failed."""
        return self.consecutive_failures >= DOWN_AFTER

    def _record(self, results: Sequence[GeocodeResult]) -> None:
        failed = 0
        for result in results:
            if result.error is not None:
                failed += 1
                self._errors.labels(self.name, result.error.value).inc()
        self.consecutive_failures = self.consecutive_failures + 1 if failed == len(results) else 0

    async def geocode(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        """Geocode one address, counted."""
        self._calls.labels(self.name, "one").inc()
        try:
            result = await self.inner.geocode(query, limit)
        except Exception as exc:
            self._errors.labels(self.name, type(exc).__name__).inc()
            self.consecutive_failures += 1
            raise
        self._record([result])
        return result

    async def geocode_many(
        self, queries: Sequence[AddressQuery], limit: int = 1
    ) -> list[GeocodeResult]:
        """Geocode many addresses, counted as one call; errors counted per address."""
        self._calls.labels(self.name, "many").inc()
        try:
            results = await self.inner.geocode_many(queries, limit)
        except Exception as exc:
            self._errors.labels(self.name, type(exc).__name__).inc()
            self.consecutive_failures += 1
            raise
        if results:
            self._record(results)
        return results

    async def aclose(self) -> None:
        """Close the wrapped geocoder."""
        await self.inner.aclose()


def metered(geocoders: dict[str, Geocoder], metrics: Metrics) -> dict[str, Geocoder]:
    """Each geocoder wrapped to be counted, keeping what it can do beyond the protocol."""
    return {name: MeteredGeocoder(g, metrics) for name, g in geocoders.items()}


class _QueueCollector:
    """The job queue's depth and job durations, read from Redis at scrape time."""

    def __init__(self, stats: QueueStats | None) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        """Queue depth, whether Redis answered, and the duration histogram."""
        up = GaugeMetricFamily("qpv_job_queue_up", "1 when the job queue (Redis) answered")
        up.add_metric([], 0 if self.stats is None else 1)
        yield up
        if self.stats is None:
            return
        depth = GaugeMetricFamily(
            "qpv_job_queue_depth",
            "Job steps (split, chunk, join) in the queue by state, for all replicas",
            labels=["state"],
        )
        depth.add_metric(["queued"], self.stats.queued)
        depth.add_metric(["active"], self.stats.active)
        yield depth
        durations = HistogramMetricFamily(
            "qpv_job_duration_seconds",
            "Seconds from submission to the end, of jobs done or failed (all workers)",
            labels=["state"],
        )
        for state, (buckets, total) in self.stats.durations.items():
            bounds = [(b if b == "+Inf" else str(float(b)), n) for b, n in buckets]
            durations.add_metric([state.value], bounds, total)
        yield durations


async def _queue_exposition(jobs: Jobs | None) -> bytes:
    if jobs is None:
        return b""
    stats: QueueStats | None = None
    try:
        async with asyncio.timeout(1.0):
            stats = await jobs.queue_stats()
    except (UpstreamError, TimeoutError):
        pass  # qpv_job_queue_up 0 says so
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_QueueCollector(stats))
    return generate_latest(registry)


router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The Prometheus exposition of every worker of this server, and of the job queue."""
    registry: Metrics = request.app.state.metrics
    queue = await _queue_exposition(getattr(request.app.state, "jobs", None))
    return Response(registry.render() + queue, media_type=CONTENT_TYPE_LATEST)
