"""``/v1/jobs`` without workers: acceptance, problems, deletion (the runs are in tests/jobs)."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

CSV = b"id;lat;lon\n0;48,88699;2,35313\n"


def _post(client: TestClient, **form: str) -> httpx.Response:
    return client.post(
        "/v1/jobs", files={"data": ("a.csv", CSV, "text/csv")}, data={"lat": "lat", **form}
    )


def test_a_job_is_accepted_with_its_location_and_waits_queued(jobs_client: TestClient) -> None:
    posted = _post(jobs_client, lon="lon")
    body = posted.json()
    assert posted.status_code == 202
    assert posted.headers["location"] == f"/v1/jobs/{body['id']}"
    assert (body["state"], body["rows_done"], body["rows_total"]) == ("queued", 0, None)
    got = jobs_client.get(f"/v1/jobs/{body['id']}").json()
    assert (got["state"], got["result"]) == ("queued", None)
    result = jobs_client.get(f"/v1/jobs/{body['id']}/result")
    assert result.status_code == 409
    assert result.headers["content-type"] == "application/problem+json"


def test_deleting_a_queued_job_cancels_it_and_removes_its_upload(
    jobs_client: TestClient, job_settings: Settings
) -> None:
    job_id = _post(jobs_client, lon="lon").json()["id"]
    assert (job_settings.jobs_dir / job_id).is_dir()
    assert jobs_client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert jobs_client.get(f"/v1/jobs/{job_id}").json()["state"] == "cancelled"
    assert not (job_settings.jobs_dir / job_id).exists()
    assert jobs_client.get(f"/v1/jobs/{job_id}/result").status_code == 404


@pytest.mark.parametrize("path", ["/v1/jobs/nope", "/v1/jobs/nope/result"], ids=["job", "result"])
def test_an_unknown_job_is_a_404_problem(jobs_client: TestClient, path: str) -> None:
    response = jobs_client.get(path)
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")
    assert jobs_client.delete("/v1/jobs/nope").status_code == 404


def test_an_upload_past_the_size_limit_is_a_413(job_settings: Settings) -> None:
    settings = job_settings.model_copy(update={"job_max_bytes": len(CSV) - 1})
    with TestClient(create_app(settings)) as client:
        posted = _post(client, lon="lon")
    assert posted.status_code == 413
    assert not settings.jobs_dir.exists()  # refused before any file was written


def test_a_bad_option_is_a_422_naming_it(jobs_client: TestClient) -> None:
    posted = _post(jobs_client, lon="lon", format="pdf")
    assert posted.status_code == 422
    assert posted.json()["parameter"] == "format"


def test_a_column_missing_from_the_file_is_a_422_and_no_job(
    jobs_client: TestClient, job_settings: Settings
) -> None:
    posted = _post(jobs_client, lon="longitude")
    assert posted.status_code == 422
    assert "longitude" in posted.json()["detail"]
    assert not job_settings.jobs_dir.exists()
