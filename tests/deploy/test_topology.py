"""The compose topology as real processes, end to end and under faults (`make e2e`).

One deployment for the module (deploy/topology.py): a PostgreSQL cluster of its own with
PostGIS, `qpv setup`, two `qpv serve` replicas of two workers each, nginx in front, one
`qpv worker`, Redis. Every test leaves it running as it found it.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.topology import NGINX, Topology, topology
from tests.conftest import GEODATA
from tests.jobs.conftest import wait_for

pytestmark = [
    pytest.mark.topology,
    pytest.mark.skipif(NGINX is None, reason="Debian's nginx: `make test` installs it"),
]
GOUTTE_DOR = {"lat": 48.88699, "lon": 2.35313}  # in QN07511M


@pytest.fixture(scope="module")
def deployment() -> Iterator[Topology]:
    """The deployment, with short job leases so that a dead worker's chunk is soon retried."""
    settings = {"QPV_JOB_CHUNK_ROWS": "2000", "QPV_JOB_LEASE_S": "2", "QPV_JOB_SWEEP_S": "1"}
    with topology(GEODATA, settings=settings) as running:
        yield running


def _bondy_addresses(repeat: int) -> bytes:
    """A CSV of every Bondy BAN address, ``repeat`` times, with a running id."""
    with gzip.open(GEODATA / "ban" / "adresses-93010-bondy.csv.gz", "rt", encoding="utf-8") as f:
        rows = [
            (r["numero"] + r["rep"], r["nom_voie"], r["code_postal"], r["nom_commune"])
            for r in csv.DictReader(f, delimiter=";")
        ]
    out = io.StringIO()
    out.write("id;numero;voie;cp;ville\n")
    for i in range(repeat * len(rows)):
        out.write(f"{i};{';'.join(rows[i % len(rows)])}\n")
    return out.getvalue().encode()


ADDRESS_OPTIONS: dict[str, str | list[str]] = {
    "columns": ["numero", "voie", "ville"],
    "postcode": "cp",
}


def _client(deployment: Topology, base: str | None) -> httpx.Client:
    """A client of ``base`` holding the deployment's API key."""
    assert base is not None
    return httpx.Client(base_url=base, headers=deployment.headers, timeout=60)


def _submit(client: httpx.Client, data: bytes, **form: str | list[str]) -> str:
    posted = client.post("/v1/jobs", files={"data": ("in.csv", data, "text/csv")}, data=form)
    assert posted.status_code == 202, posted.text
    return str(posted.json()["id"])


def _job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _done(client: httpx.Client, job_id: str, timeout: float = 180) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body = _job(client, job_id)
        assert body["state"] not in {"failed", "cancelled"}, body
        return body if body["state"] == "done" else None

    result: dict[str, Any] = wait_for(finished, timeout, f"job {job_id}")
    return result


def _result_rows(client: httpx.Client, job_id: str) -> list[dict[str, str]]:
    response = client.get(f"/v1/jobs/{job_id}/result")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text), delimiter=";"))


def test_every_replica_is_ready_on_the_imported_database(deployment: Topology) -> None:
    for replica in deployment.replicas:
        body = httpx.get(f"{replica}/readyz").json()
        assert body["status"] == "ok"
        assert body["checks"]["database"] == "ok" and body["checks"]["geocoder_local"] == "ok"


def test_a_job_submitted_to_one_replica_is_followed_and_fetched_from_the_other(
    deployment: Topology,
) -> None:
    first, second = (_client(deployment, r) for r in deployment.replicas)
    data = b"id;lat;lon\n1;48,88699;2,35313\n2;48.8566;2.3522\n3;;\n"
    job_id = _submit(first, data, lat="lat", lon="lon")
    body = _done(second, job_id)
    assert (body["rows_done"], body["rows_total"]) == (3, 3)
    rows = _result_rows(second, job_id)
    assert [(r["id"], r["qpv_status"], r["qpv_code"]) for r in rows] == [
        ("1", "in", "QN07511M"),
        ("2", "out", ""),
        ("3", "invalid", ""),
    ]


def test_an_address_job_through_the_proxy_comes_back_whole_and_in_order(
    deployment: Topology,
) -> None:
    proxy = _client(deployment, deployment.proxy)
    data = _bondy_addresses(repeat=1)
    job_id = _submit(proxy, data, **ADDRESS_OPTIONS)
    _done(proxy, job_id)
    rows = _result_rows(proxy, job_id)
    assert [int(r["id"]) for r in rows] == list(range(data.count(b"\n") - 1))
    statuses = Counter(r["qpv_status"] for r in rows)
    assert statuses["in"] > 0 and statuses["out"] > 0 and statuses["not_found"] < len(rows) / 100


def _uvicorn_workers(deployment: Topology, name: str) -> list[int]:
    """The pids of the uvicorn worker processes of replica ``name``."""
    supervisor = deployment.processes.procs[name].pid
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


class Load:
    """Point lookups in a loop on one thread, counting answers and failures."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers = base, headers
        self.statuses: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    response = client.get("/v1/point", params=GOUTTE_DOR)
                    ok = response.status_code == 200 and response.json()["status"] == "in"
                    self.statuses["ok" if ok else str(response.status_code)] += 1
                except httpx.TransportError as exc:
                    self.statuses[type(exc).__name__] += 1

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_uvicorn_worker_killed_mid_load_loses_no_request_behind_the_proxy(
    deployment: Topology,
) -> None:
    assert deployment.proxy is not None
    victims = _uvicorn_workers(deployment, "api1")
    assert len(victims) == 2
    with Load(deployment.proxy, deployment.headers) as load:
        time.sleep(1)
        os.kill(victims[0], signal.SIGKILL)
        time.sleep(3)
    assert set(load.statuses) == {"ok"}, load.statuses
    assert load.statuses["ok"] > 50
    # uvicorn's supervisor replaces the dead worker.
    wait_for(lambda: len(_uvicorn_workers(deployment, "api1")) == 2, 60, "a new uvicorn worker")


def test_lookups_go_on_while_500_idle_connections_are_held_open(deployment: Topology) -> None:
    replica = deployment.replicas[1]
    host, port = replica.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port)), timeout=10) for _ in range(500)]
    try:
        with _client(deployment, replica) as client:
            answers = [client.get("/v1/point", params=GOUTTE_DOR) for _ in range(100)]
        assert [r.json()["status"] for r in answers] == ["in"] * 100
    finally:
        for conn in idle:
            conn.close()


def _warm_every_worker(deployment: Topology) -> None:
    """Let every uvicorn worker check the key: one that never saw it cannot while the database
    is away. Many requests at once on fresh connections, so that each worker accepts some."""
    urls = [f"{r}/v1/point" for r in deployment.replicas for _ in range(64)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(lambda u: httpx.get(u, params=GOUTTE_DOR, headers=deployment.headers), urls)
        )
    assert {a.status_code for a in answers} == {200}


def test_with_postgresql_stopped_points_answer_readyz_says_degraded_and_jobs_run_on(
    deployment: Topology,
) -> None:
    proxy = _client(deployment, deployment.proxy)
    _warm_every_worker(deployment)
    data = _bondy_addresses(repeat=2)
    job_id = _submit(proxy, data, **ADDRESS_OPTIONS)
    deployment.postgres.stop()
    try:
        with Load(str(deployment.proxy), deployment.headers) as load:
            for replica in deployment.replicas:
                ready = httpx.get(f"{replica}/readyz", timeout=10)
                assert ready.json()["status"] == "degraded"
                assert ready.json()["checks"]["database"] != "ok"
                listed = httpx.get(f"{replica}/v1/datasets", headers=deployment.headers)
                assert listed.status_code == 503
                assert listed.headers["content-type"] == "application/problem+json"
            # The job workers need no database: the job runs to its end during the outage.
            assert _done(proxy, job_id)["rows_done"] == data.count(b"\n") - 1
        assert set(load.statuses) == {"ok"}, load.statuses
    finally:
        deployment.postgres.start()
        for replica in deployment.replicas:
            wait_for(
                lambda r=replica: httpx.get(f"{r}/readyz").json()["status"] == "ok",  # type: ignore[misc]
                60,
                "the database back",
            )


def test_a_worker_killed_mid_job_leaves_a_complete_result_after_a_new_worker_starts(
    deployment: Topology,
) -> None:
    first, second = (_client(deployment, r) for r in deployment.replicas)
    data = _bondy_addresses(repeat=4)
    total = data.count(b"\n") - 1
    job_id = _submit(first, data, **ADDRESS_OPTIONS)
    wait_for(lambda: _job(second, job_id)["rows_done"] > 0, 120, "a first chunk")
    [worker] = deployment.workers
    deployment.processes.stop(worker, signal.SIGKILL)
    deployment.workers.remove(worker)
    assert _job(second, job_id)["state"] != "done"
    deployment.start_worker()
    body = _done(second, job_id)
    assert body["rows_done"] == total
    rows = _result_rows(second, job_id)
    assert [int(r["id"]) for r in rows] == list(range(total))


def test_a_key_without_scope_or_past_its_rate_is_refused_on_every_replica(
    deployment: Topology,
) -> None:
    lookup_only = {"Authorization": f"Bearer {deployment.create_key('l', 'lookup', 2)}"}
    refused = httpx.post(f"{deployment.replicas[0]}/v1/jobs", headers=lookup_only)
    assert (refused.status_code, refused.headers["content-type"]) == (
        403,
        "application/problem+json",
    )
    assert httpx.get(f"{deployment.replicas[1]}/v1/point", params=GOUTTE_DOR).status_code == 401
    # Two a minute, counted in Redis for both replicas together.
    answers = [
        httpx.get(f"{deployment.replicas[i % 2]}/v1/point", params=GOUTTE_DOR, headers=lookup_only)
        for i in range(6)
    ]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert [a.status_code for a in answers[2:]] == [429] * 4
    assert int(answers[-1].headers["retry-after"]) > 0
