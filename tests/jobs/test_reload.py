"""Running ``qpv worker``s follow the data generation, and a job is tagged with one only."""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import main
from app.data.importer import list_datasets
from app.db.access import bump_generation
from app.db.session import make_engine
from app.main import create_app
from app.settings import Settings
from tests.conftest import QPV2024_GEOJSON
from tests.jobs.conftest import WorkerPool, wait_for
from tests.jobs.test_worker import assert_complete_in_order, coordinates_csv, result_rows, submit


@pytest.fixture
def own_database(loaded_sqlite_url: str, tmp_path: Path) -> str:
    """A copy of the loaded SQLite file that this test may import into."""
    copy = tmp_path / "own.sqlite3"
    shutil.copyfile(loaded_sqlite_url.removeprefix("sqlite:///"), copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def settings(job_settings: Settings, own_database: str, workers: WorkerPool) -> Settings:
    """The test's settings on its own database, the API following the generation quickly."""
    changed = job_settings.model_copy(update={"database_url": own_database, "reload_poll_s": 0.2})
    workers.settings = changed
    return changed


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app on the test's settings."""
    with TestClient(create_app(settings)) as client:
        yield client


def api_generation(client: TestClient) -> int:
    """The data generation the API answers from."""
    generation: int = client.app.state.reloader.generation  # type: ignore[attr-defined]
    return generation


def job(client: TestClient, job_id: str) -> dict[str, object]:
    """GET /v1/jobs/{id}."""
    body: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
    return body


def wait_state(client: TestClient, job_id: str, state: str) -> dict[str, object]:
    """The job once it is in ``state``."""

    def reached() -> dict[str, object]:
        body = job(client, job_id)
        return body if body["state"] == state else {}

    return wait_for(reached, what=f"job {state}")


def tag_until(client: TestClient, data: bytes, state: str, **form: str) -> tuple[str, int]:
    """Submit ``data`` and wait for ``state``; returns the job id and its data generation."""
    job_id = submit(client, data, **form)
    generation = wait_state(client, job_id, state)["data_generation"]
    assert isinstance(generation, int)
    return job_id, generation


def three_features(folder: Path) -> Path:
    """The 2024 file cut to its first three QPV (QN07511M, where GOUTTE_DOR is, is not one)."""
    source = json.loads(QPV2024_GEOJSON.read_text(encoding="utf-8"))
    path = folder / "three.geojson"
    path.write_text(json.dumps({**source, "features": source["features"][:3]}))
    return path


def test_a_running_worker_tags_each_new_job_with_the_data_in_force_at_submission(
    settings: Settings,
    client: TestClient,
    workers: WorkerPool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = settings.database_url
    monkeypatch.setenv("QPV_DATABASE_URL", url)
    workers.start(1)
    before = api_generation(client)
    job_id, generation = tag_until(client, coordinates_csv(10), "done")
    assert generation == before
    assert_complete_in_order(result_rows(client, job_id), 10)

    # A three-QPV 2024 dataset, forced in: the Goutte d'Or point is out of every QPV now.
    assert main(["data", "import", str(three_features(tmp_path)), "--force"]) == 0
    wait_for(lambda: api_generation(client) == before + 1, what="the API reloaded")
    job_id, generation = tag_until(client, coordinates_csv(10), "done")
    assert generation == before + 1
    assert {r["qpv_status"] for r in result_rows(client, job_id)} == {"out"}

    # The official dataset made current again: the same worker answers from it again.
    engine = make_engine(url)
    official = next(d.id for d in list_datasets(engine) if d.state == "previous")
    engine.dispose()
    assert main(["data", "use", str(official)]) == 0
    wait_for(lambda: api_generation(client) == before + 2, what="the API reloaded")
    job_id, generation = tag_until(client, coordinates_csv(10), "done")
    assert generation == before + 2
    assert_complete_in_order(result_rows(client, job_id), 10)
    assert len(workers.procs) == 1  # no restart
    for moved in (before + 1, before + 2):
        assert f"data generation {moved} in use" in workers.output()


def test_a_job_whose_data_moved_on_mid_job_fails_whole_and_a_resubmission_is_done(
    settings: Settings, client: TestClient, workers: WorkerPool
) -> None:
    # Chunks of 2000 rows for the workers (the API does not split).
    workers.settings = settings.model_copy(update={"job_chunk_rows": 2000})
    workers.start(1)
    first = workers.procs[0]
    before = api_generation(client)
    n = 20 * workers.settings.job_chunk_rows
    job_id = submit(client, coordinates_csv(n), distances="true")
    # The first chunk fixed the job's generation; its worker then freezes mid-job.
    wait_for(lambda: job(client, job_id)["rows_done"], what="a chunk tagged")
    first.send_signal(signal.SIGSTOP)
    try:
        engine = make_engine(settings.database_url)
        assert bump_generation(engine) == before + 1
        engine.dispose()
        # A worker started now loads the new generation, then takes the job's next chunk.
        workers.start(1)
        failed = wait_state(client, job_id, "failed")
    finally:
        first.send_signal(signal.SIGCONT)
    assert failed["data_generation"] == before
    assert failed["error"] == (
        f"the data changed during the job (generation {before}, now {before + 1}): "
        "resubmit the file"
    )
    assert client.get(f"/v1/jobs/{job_id}/result").status_code == 404
    assert not (settings.jobs_dir / job_id).exists()

    wait_for(lambda: api_generation(client) == before + 1, what="the API reloaded")
    job_id, generation = tag_until(client, coordinates_csv(4000), "done")
    assert generation == before + 1
    assert_complete_in_order(result_rows(client, job_id), 4000)


def test_a_job_submitted_to_a_replica_not_yet_reloaded_is_tagged_whole_with_the_newer_data(
    settings: Settings, workers: WorkerPool
) -> None:
    lagging = settings.model_copy(update={"reload_poll_s": 3600})
    with TestClient(create_app(lagging)) as client:
        before = api_generation(client)
        engine = make_engine(settings.database_url)
        assert bump_generation(engine) == before + 1
        engine.dispose()
        job_id = submit(client, coordinates_csv(3000))
        assert job(client, job_id)["data_generation"] == before  # what the replica knows
        workers.start(1)  # loads the new generation
        done = wait_state(client, job_id, "done")
        assert done["data_generation"] == before + 1  # fixed by its first chunk, for all
        assert_complete_in_order(result_rows(client, job_id), 3000)
