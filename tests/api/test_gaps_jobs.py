"""``POST /v1/gaps`` on a finished job's result: real Redis, a real ``qpv worker``."""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient

from app.stats import example
from tests.jobs.conftest import WorkerPool, wait_for, workers  # noqa: F401


def test_a_finished_jobs_result_is_analysed_by_its_id(
    jobs_client: TestClient,
    workers: WorkerPool,  # noqa: F811
    admissions: example.Example,
) -> None:
    raw = pd.concat([admissions.rows, admissions.coordinates], axis=1).head(3000)
    submitted = jobs_client.post(
        "/v1/jobs",
        files={"data": ("adm.csv", raw.to_csv(index=False).encode(), "text/csv")},
        data={"lat": "lat", "lon": "lon", "geography": "2024"},
    )
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    early = jobs_client.post("/v1/gaps", data={"job": job_id, "outcome": "admis"})
    assert early.status_code in (200, 409)  # 409 while the job still runs
    workers.start(1)
    wait_for(
        lambda: jobs_client.get(f"/v1/jobs/{job_id}").json()["state"] == "done", what="job done"
    )
    response = jobs_client.post("/v1/gaps", data={"job": job_id, "outcome": "admis", "by": "sexe"})
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert [r["sexe"] for r in rows] == ["(ensemble)", "F", "M"]
    statuses = {s["statut"]: s["lignes"] for s in response.json()["statuses"]}
    assert rows[0]["n_qpv"] == statuses["in"] > 500


def test_an_unknown_job_is_a_404(jobs_client: TestClient) -> None:
    response = jobs_client.post("/v1/gaps", data={"job": "nope", "outcome": "admis"})
    assert response.status_code == 404
