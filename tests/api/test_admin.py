"""``POST /v1/admin/reload`` and the data generation: new data in every worker, no failure."""

from __future__ import annotations

import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.cli import main
from app.data.divisions import import_divisions
from app.data.importer import import_qpv_file
from app.db.access import data_generation
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.main import create_app
from app.settings import Settings
from tests.api.access_fixtures import Closed
from tests.conftest import (
    DIVISIONS_TGZ,
    QPV2015_SHP,
    QPV2024_GEOJSON,
    free_port,
    running_server,
)
from tests.jobs.conftest import wait_for

# A point in a 2024 QPV of Paris 18e; asked in each geography.
POINT = "/v1/point?lat=48.88699&lon=2.35313&geography="


@pytest.fixture(scope="module")
def only_2015(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the divisions and the 2015 geography only (a template to copy)."""
    path = tmp_path_factory.mktemp("only2015") / "qpv.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    import_divisions(engine, DIVISIONS_TGZ)
    import_qpv_file(engine, QPV2015_SHP)
    engine.dispose()  # checkpoints the WAL: the file alone is the database
    return path


@pytest.fixture
def url(only_2015: Path, tmp_path: Path) -> str:
    """This test's copy of the 2015-only database."""
    shutil.copyfile(only_2015, tmp_path / "qpv.sqlite3")
    return f"sqlite:///{tmp_path / 'qpv.sqlite3'}"


def _hammer(base: str, stop: threading.Event, statuses: Counter[int]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            statuses[client.get(POINT + "2015").status_code] += 1


@pytest.fixture
def load(url: str) -> Iterator[tuple[str, Counter[int]]]:
    """A server on ``url`` under constant point lookups: its base URL and their statuses."""
    settings = Settings(database_url=url, geocoders=[], reload_poll_s=60)
    stop, statuses = threading.Event(), Counter[int]()
    with running_server(create_app(settings)) as base:
        threads = [threading.Thread(target=_hammer, args=(base, stop, statuses)) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            yield base, statuses
        finally:
            stop.set()
            for thread in threads:
                thread.join()


def test_a_reload_swaps_in_a_new_dataset_while_requests_keep_being_answered(
    url: str, load: tuple[str, Counter[int]]
) -> None:
    base, statuses = load
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.get(POINT + "2024").status_code == 503  # not imported yet
        # While the server runs; the import publishes a generation, seen within 60 s.
        imported = import_qpv_file(make_engine(url), QPV2024_GEOJSON).generation
        assert imported is not None
        assert client.get(POINT + "2024").status_code == 503  # not until a reload
        before = sum(statuses.values())
        reloaded = client.post("/v1/admin/reload")
        assert reloaded.status_code == 200
        assert reloaded.json()["generation"] == imported + 1
        assert sorted(reloaded.json()["datasets"]) == ["2015", "2024"]
        answer = client.get(POINT + "2024")
        assert (answer.status_code, answer.json()["status"]) == (200, "in")
        during = sum(statuses.values()) - before
        wait_for(lambda: sum(statuses.values()) > before + during + 10, what="more lookups")
        assert 'qpv_reloads_total{outcome="done"} 1.0' in client.get("/metrics").text
    assert set(statuses) == {200}  # not one failed request, during the swap or after
    assert during > 0  # lookups were answered while the new data loaded


def test_an_import_command_is_followed_by_every_running_worker(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(database_url=url, geocoders=[], reload_poll_s=0.2)
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        assert one.get(POINT + "2024").status_code == 503
        monkeypatch.setenv("QPV_DATABASE_URL", url)
        before = data_generation(make_engine(url))
        assert main(["data", "import", str(QPV2024_GEOJSON)]) == 0  # bumps the generation
        for worker in (one, two):
            wait_for(lambda w=worker: w.get(POINT + "2024").status_code == 200, what="reload")
            assert worker.app.state.reloader.generation == before + 1  # type: ignore[attr-defined]


def test_a_reload_without_a_database_is_a_502_and_the_old_data_keeps_answering(
    url: str,
) -> None:
    with TestClient(create_app(Settings(database_url=url, geocoders=[]))) as client:
        reloader = client.app.state.reloader  # type: ignore[attr-defined]
        reloader.engine = create_engine("sqlite:////nonexistent-folder/down.sqlite3")  # fault
        refused = client.post("/v1/admin/reload")
        assert refused.status_code == 502
        assert refused.headers["content-type"] == "application/problem+json"
        assert client.get(POINT + "2015").status_code == 200


def test_a_reload_needs_an_admin_key_in_a_closed_service(closed_app: Closed) -> None:
    client = closed_app.client
    assert client.post("/v1/admin/reload", headers=closed_app.auth("lookup")).status_code == 403
    reloaded = client.post("/v1/admin/reload", headers=closed_app.auth("admin"))
    assert reloaded.status_code == 200
    assert reloaded.json()["generation"] >= 1


def test_every_uvicorn_worker_of_qpv_serve_reloads(url: str, tmp_path: Path) -> None:
    from tests.test_serve import serve, wait_ready

    port = free_port()
    env = {
        "QPV_DATABASE_URL": url,
        "QPV_GEOCODERS": "[]",
        "QPV_METRICS_DIR": str(tmp_path / "metrics"),  # reloads added up over the workers
        "QPV_RELOAD_POLL_S": "0.5",
    }
    process = serve(env, port, 2, tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        import_qpv_file(make_engine(url), QPV2024_GEOJSON)
        assert httpx.post(f"{base}/v1/admin/reload", timeout=120).status_code == 200

        def reloads() -> float:
            text = httpx.get(f"{base}/metrics", timeout=10).text
            found = re.search(r'^qpv_reloads_total\{outcome="done"\} (\S+)$', text, re.M)
            return float(found.group(1)) if found else 0.0

        wait_for(lambda: reloads() == 2, timeout=120, what="both workers reloaded")
        statuses = {httpx.get(base + POINT + "2024", timeout=10).status_code for _ in range(20)}
        assert statuses == {200}
    finally:
        process.terminate()
        process.wait(timeout=30)
