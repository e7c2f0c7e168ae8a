"""Imports of a slightly different 2024 file SIGKILLed at each of their steps, on both
backends, under a running 2-worker `qpv serve`: the database is left in the old state or the
new one, announced; every worker answers from the dataset the database calls current once it
had its reload period, and so does a worker restarted afterwards (the split of issue 21).

The moments are chosen by the import's own fault-injection hook (QPV_IMPORT_PAUSE_AT: the
import logs that it paused at a named step and waits), never by wall-clock sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.data.importer import import_qpv_file
from app.db.publication import DataState, read_state
from app.db.session import make_engine
from app.hashing import file_sha256
from app.spatial.geography import Geography
from tests.conftest import BACKENDS, QPV2024_GEOJSON, free_port
from tests.data.stored import backend_database, counts
from tests.jobs.conftest import wait_for
from tests.test_serve import serve, wait_ready

# The import's steps, in order: the first four are before its commit, the last one after.
MOMENTS = ["read", "compared", "written", "announced", "committed"]
# Once the new dataset is in the database (committed or not), a worker is restarted too:
# a new worker loads the data anew, the others keep theirs (how the service split).
RESTART_AFTER = {"written", "announced", "committed"}
POINT = {"lat": 48.88699, "lon": 2.35313, "geography": "2024"}  # in QN07511M


@dataclass
class Served:
    """A database and the 2-worker server answering from it."""

    url: str
    base: str
    folder: Path
    versions: set[str] = field(default_factory=set)  # every dataset version ever answered


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A database of each backend with the official 2024 file, served by `qpv serve
    --workers 2` that checks the data every 0.5 s."""
    folder = tmp_path_factory.mktemp("killed")
    with backend_database(request.param, folder, "qpv_test_killed") as url:
        import_qpv_file(make_engine(url), QPV2024_GEOJSON)
        port = free_port()
        env = {"QPV_DATABASE_URL": url, "QPV_GEOCODERS": "[]", "QPV_RELOAD_POLL_S": "0.5"}
        process = serve(env, port, 2, folder / "server.log")
        try:
            wait_ready(f"http://127.0.0.1:{port}", process)
            yield Served(url, f"http://127.0.0.1:{port}", folder)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _variant(folder: Path, label: str) -> Path:
    """The 2024 file with one quartier's name spelt differently: another file, same places."""
    source = json.loads(QPV2024_GEOJSON.read_text(encoding="utf-8"))
    source["features"][0]["properties"]["lib_qp"] += f" ({label})"
    path = folder / f"qpv2024-{label}.geojson"
    path.write_text(json.dumps(source))
    return path


def _import_killed_at(url: str, path: Path, step: str, log: Path) -> None:
    """`qpv data import PATH` in a child process, SIGKILLed once it says it paused at ``step``."""
    env = os.environ | {"QPV_DATABASE_URL": url, "QPV_IMPORT_PAUSE_AT": step}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "data", "import", str(path)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: process.poll() is not None or f"paused at step {step}" in log.read_text(),
            timeout=300,
            what=f"the import to pause at {step}",
        )
        assert process.poll() is None, log.read_text()  # paused, not finished nor failed
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _hammer(served: Served, stop: threading.Event) -> None:
    """Point lookups, each on a new connection (so both workers answer), until ``stop``."""
    while not stop.is_set():
        with httpx.Client(base_url=served.base, timeout=30) as client:
            answer = client.get("/v1/point", params=POINT)
        assert answer.status_code == 200, answer.text
        served.versions.add(answer.json()["dataset"]["version"])


def _every_worker_answers_from(served: Served, state: DataState) -> set[str]:
    """Wait until two workers have each said, on /readyz, that they answer from ``state``;
    their process ids."""
    version = state.versions()[Geography.QPV2024]
    seen: dict[str, dict[str, str]] = {}

    def agreed() -> bool:
        with httpx.Client(base_url=served.base, timeout=30) as client:
            checks = client.get("/readyz").json()["checks"]
        seen[checks["process"]] = checks
        return len(seen) >= 2 and all(
            (c["qpv2024"], c["generation"], c["data"]) == (version, str(state.generation), "ok")
            for c in seen.values()
        )

    wait_for(agreed, timeout=300, what=f"every worker on generation {state.generation}")
    for _ in range(20):
        with httpx.Client(base_url=served.base, timeout=30) as client:
            answer = client.get("/v1/point", params=POINT).json()
        assert answer["dataset"]["version"] == version
    return set(seen)


def _restart_a_worker(served: Served, workers: set[str]) -> None:
    """SIGKILL one uvicorn worker; its supervisor starts another, which loads the data anew."""
    os.kill(int(min(workers)), signal.SIGKILL)
    wait_for(
        lambda: (
            httpx.get(f"{served.base}/readyz", timeout=30).json()["checks"]["process"]
            not in workers
        ),
        timeout=300,
        what="the new worker to answer",
    )


@pytest.mark.parametrize("moment", MOMENTS)
def test_an_import_killed_at_any_step_leaves_one_announced_dataset_every_worker_answers_from(
    served: Served, moment: str
) -> None:
    engine = make_engine(served.url)
    before, stored = read_state(engine), counts(served.url)
    path = _variant(served.folder, moment)
    stop = threading.Event()
    hammer = threading.Thread(target=_hammer, args=(served, stop))
    hammer.start()
    try:
        _import_killed_at(served.url, path, moment, served.folder / f"import-{moment}.log")
    finally:
        stop.set()
        hammer.join()
    after = read_state(engine)
    assert after.is_announced  # the old state or the new one, never unannounced
    if moment == "committed":
        assert after.generation == before.generation + 1
        assert after.versions() == {Geography.QPV2024: file_sha256(path)[:12]}
    else:
        assert (after.generation, after.key, counts(served.url)) == (
            before.generation,
            before.key,
            stored,
        )
    workers = _every_worker_answers_from(served, after)
    if moment in RESTART_AFTER:
        _restart_a_worker(served, workers)
        _every_worker_answers_from(served, after)
    # Only the datasets that were current ever answered: never a half-written one.
    assert served.versions <= {*before.versions().values(), *after.versions().values()}
    served.versions.clear()
    engine.dispose()
