"""``/metrics`` shows the job queue (depth, durations) for all replicas, from Redis."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.jobs.conftest import WorkerPool, wait_for
from tests.jobs.test_worker import coordinates_csv, state, submit


def _value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"{sample} not in /metrics"
    return float(match.group(1))


def test_queue_depth_and_job_durations_are_in_the_metrics(
    jobs_client: TestClient, workers: WorkerPool
) -> None:
    job_id = submit(jobs_client, coordinates_csv(10))
    text = jobs_client.get("/metrics").text
    assert _value(text, "qpv_job_queue_up") == 1
    assert _value(text, 'qpv_job_queue_depth{state="queued"}') == 1  # its split step
    assert _value(text, 'qpv_job_duration_seconds_count{state="done"}') == 0
    workers.start(1)
    wait_for(lambda: state(jobs_client, job_id) == "done", what="job done")
    text = jobs_client.get("/metrics").text
    assert _value(text, 'qpv_job_queue_depth{state="queued"}') == 0
    assert _value(text, 'qpv_job_duration_seconds_count{state="done"}') == 1
    assert _value(text, 'qpv_job_duration_seconds_bucket{le="+Inf",state="done"}') == 1
    assert 0 < _value(text, 'qpv_job_duration_seconds_sum{state="done"}') < 120


def test_an_unreachable_queue_shows_as_down_and_metrics_still_answer(
    job_settings: Settings,
) -> None:
    settings = job_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(settings)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert _value(response.text, "qpv_job_queue_up") == 0
    assert "qpv_job_queue_depth" not in response.text
