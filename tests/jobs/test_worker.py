"""Jobs end to end: the API queues, real ``qpv worker`` processes split, tag and join."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import time
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from saq.queue.redis import RedisQueue

from app.settings import Settings
from tests.jobs.conftest import WorkerPool, wait_for

GOUTTE_DOR = ("48.88699", "2.35313")  # in QN07511M
EIFFEL = ("48.85837", "2.29448")  # out of every QPV


def coordinates_csv(rows: int) -> bytes:
    """``id;lat;lon`` with decimal commas, alternating a point in QN07511M and one out."""
    lines = ["id;lat;lon"]
    for i in range(rows):
        lat, lon = GOUTTE_DOR if i % 2 == 0 else EIFFEL
        lines.append(f"{i};{lat.replace('.', ',')};{lon.replace('.', ',')}")
    return ("\r\n".join(lines) + "\r\n").encode()


def submit(client: TestClient, data: bytes, **form: str) -> str:
    """POST a job (of coordinates unless the form says otherwise); returns its id."""
    fields = {k: v for k, v in {"lat": "lat", "lon": "lon", **form}.items() if v}
    response = client.post(
        "/v1/jobs", files={"data": ("applicants.csv", data, "text/csv")}, data=fields
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def state(client: TestClient, job_id: str) -> str:
    """The job's state now."""
    value: str = client.get(f"/v1/jobs/{job_id}").json()["state"]
    return value


def result_rows(client: TestClient, job_id: str) -> list[dict[str, str]]:
    """The result file's data rows."""
    response = client.get(f"/v1/jobs/{job_id}/result")
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode()), delimiter=";"))


def assert_complete_in_order(rows: list[dict[str, str]], n: int) -> None:
    """Every input row, once, in input order, with the right answer."""
    assert [int(r["id"]) for r in rows] == list(range(n))
    for row in rows:
        if int(row["id"]) % 2 == 0:
            assert (row["qpv_status"], row["qpv_code"]) == ("in", "QN07511M")
        else:
            assert (row["qpv_status"], row["qpv_code"]) == ("out", "")


def test_a_job_goes_from_queued_to_done_with_every_row_in_order(
    jobs_client: TestClient, workers: WorkerPool, job_settings: Settings
) -> None:
    n = 3 * job_settings.job_chunk_rows + 17
    job_id = submit(jobs_client, coordinates_csv(n))
    assert state(jobs_client, job_id) == "queued"  # no worker yet
    workers.start(2)
    wait_for(lambda: state(jobs_client, job_id) == "done", what="job done")

    body = jobs_client.get(f"/v1/jobs/{job_id}").json()
    assert (body["rows_total"], body["rows_done"]) == (n, n)
    assert body["counts"] == {"in": (n + 1) // 2, "out": n // 2}
    assert body["result"] == f"/v1/jobs/{job_id}/result"
    assert_complete_in_order(result_rows(jobs_client, job_id), n)
    # Only the result is kept: no upload, no chunk.
    folder = job_settings.jobs_dir / job_id
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["result.csv"]


def _active_chunk_worker(settings: Settings) -> str | None:
    """The worker id (host:pid) holding a chunk right now, if any."""

    async def look() -> str | None:
        queue = RedisQueue.from_url(settings.redis_url, name=settings.jobs_namespace)
        try:
            info = await queue.info(jobs=True, limit=100)
            for job in info["jobs"]:
                if job["function"] == "tag_chunk" and job["status"] == "active":
                    worker_id: str | None = job.get("worker_id")
                    return worker_id
            return None
        finally:
            await queue.disconnect()

    return asyncio.run(look())


def test_a_job_survives_a_worker_killed_mid_chunk(
    job_settings: Settings, workers: WorkerPool
) -> None:
    from app.main import create_app

    # Chunks long enough (distances on) that the kill lands while one is being tagged.
    settings = job_settings.model_copy(update={"job_chunk_rows": 25_000})
    n = 8 * settings.job_chunk_rows
    workers.settings = settings
    workers.start(2)
    with TestClient(create_app(settings)) as client:
        job_id = submit(client, coordinates_csv(n), distances="true")
        holder = wait_for(lambda: _active_chunk_worker(settings), what="a chunk being tagged")
        victim = workers.by_pid(int(holder.rsplit(":", 1)[1]))
        victim.send_signal(signal.SIGKILL)
        victim.wait()

        wait_for(lambda: state(client, job_id) == "done", timeout=120, what="job done")
        assert_complete_in_order(result_rows(client, job_id), n)
    assert "Sweeping job" in workers.output()  # the dead worker's chunk was handed over


def test_delete_cancels_a_running_job_and_removes_its_files(
    jobs_client: TestClient, workers: WorkerPool, job_settings: Settings
) -> None:
    workers.start(1)
    job_id = submit(jobs_client, coordinates_csv(20 * job_settings.job_chunk_rows))
    wait_for(lambda: state(jobs_client, job_id) == "running", what="job running")

    assert jobs_client.delete(f"/v1/jobs/{job_id}").status_code == 204
    body = jobs_client.get(f"/v1/jobs/{job_id}").json()
    assert body["state"] == "cancelled"
    folder = job_settings.jobs_dir / job_id
    # A chunk in flight notices within a lease tick, and leaves nothing behind.
    time.sleep(job_settings.job_lease_s)
    assert not folder.exists()
    assert jobs_client.get(f"/v1/jobs/{job_id}/result").status_code == 404


def test_a_job_whose_upload_vanished_fails_with_the_reason_and_leaves_no_file(
    jobs_client: TestClient, workers: WorkerPool, job_settings: Settings
) -> None:
    job_id = submit(jobs_client, coordinates_csv(10))
    (job_settings.jobs_dir / job_id / "input.csv").unlink()  # a shared volume lost it
    workers.start(1)
    wait_for(lambda: state(jobs_client, job_id) == "failed", what="job failed")
    assert "gone" in jobs_client.get(f"/v1/jobs/{job_id}").json()["error"]
    assert not (job_settings.jobs_dir / job_id).exists()
    assert jobs_client.get(f"/v1/jobs/{job_id}/result").status_code == 404


@pytest.mark.parametrize("by", ["access", "sweep"])
def test_an_expired_job_is_gone_and_its_files_deleted(
    by: str, job_settings: Settings, workers: WorkerPool
) -> None:
    from app.main import create_app

    # Long enough for the job to finish first on a loaded machine.
    settings = job_settings.model_copy(update={"job_ttl_s": 10})
    workers.settings = settings
    workers.start(1)
    with TestClient(create_app(settings)) as client:
        job_id = submit(client, coordinates_csv(10))
        wait_for(lambda: state(client, job_id) == "done", what="job done")
        expires = datetime.fromisoformat(client.get(f"/v1/jobs/{job_id}").json()["expires_at"])
        folder = settings.jobs_dir / job_id
        assert (folder / "result.csv").is_file()
        if by == "sweep":  # the worker's sweep, with nobody asking
            wait_for(lambda: not folder.exists(), timeout=30, what="files swept")
        else:  # no worker left to sweep: the API notices on access
            workers.stop()
            time.sleep(max(expires.timestamp() - time.time(), 0) + 0.1)
            assert folder.exists()
        assert client.get(f"/v1/jobs/{job_id}/result").status_code == 404
        assert client.get(f"/v1/jobs/{job_id}").status_code == 404
        assert not folder.exists()


def test_no_uploaded_address_appears_in_any_log(
    job_settings: Settings,
    workers: WorkerPool,
    geocoded_sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from app.main import create_app

    settings = job_settings.model_copy(
        update={"database_url": geocoded_sqlite_url, "geocoders": ["local"]}
    )
    secrets = ["Zéphyrine Quibblesworth", "77 impasse Xylophagie-Ornithorynque", "Qwzx"]
    rows = ["id;nom;adresse;cp"]
    rows += [f"{i};{secrets[0]};{secrets[1]};93140" for i in range(5)]
    rows += ["5;Jean Dupont;4 rue Eric Tabarly;93140", f"6;{secrets[2]};{secrets[2]};7501"]
    workers.settings = settings
    workers.start(1)
    with TestClient(create_app(settings)) as client:
        form = {"columns": "adresse", "postcode": "cp"}
        job_id = submit(client, "\n".join(rows).encode(), lat="", lon="", **form)
        wait_for(lambda: state(client, job_id) == "done", what="job done")
        tagged = result_rows(client, job_id)
        assert [r["qpv_status"] for r in tagged[5:]] == ["in", "invalid"]
        broken = b"\xff\xfe" + os.urandom(64) + secrets[1].encode()
        refused = client.post("/v1/jobs", files={"data": ("x.csv", broken)}, data=form)
        assert refused.status_code == 422
        assert secrets[1] not in refused.text

    logged = workers.output() + caplog.text + "".join(capfd.readouterr())
    assert "worker ready" in logged  # the logs were captured
    for secret in [*secrets, "Tabarly"]:
        assert secret not in logged
