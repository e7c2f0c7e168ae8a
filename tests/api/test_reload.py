"""The reloader and /readyz: each worker names the data it answers from, follows the
database's current data, and says `degraded` when it lags past the reload period."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.data.importer import import_qpv_file
from app.db.session import make_engine
from app.main import create_app
from app.settings import Settings
from tests.db.test_publication import commit_unannounced, small_file
from tests.jobs.conftest import wait_for


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _url(tmp_path: Path) -> str:
    from app.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'qpv.sqlite3'}"
    upgrade(url)
    import_qpv_file(make_engine(url), small_file(tmp_path, "one.geojson"))
    return url


def test_readyz_says_degraded_when_a_worker_answers_from_old_data_past_the_reload_period(
    tmp_path: Path,
) -> None:
    url = _url(tmp_path)
    settings = Settings(database_url=url, geocoders=[], reload_poll_s=60)  # no poll here
    with TestClient(create_app(settings)) as client:
        reloader = client.app.state.reloader  # type: ignore[attr-defined]
        reloader.clock = clock = FakeClock()
        ready = client.get("/readyz").json()
        assert (ready["status"], ready["checks"]["data"], ready["checks"]["generation"]) == (
            "ok",
            "ok",
            "1",
        )
        new = import_qpv_file(make_engine(url), small_file(tmp_path, "two.geojson"))
        ready = client.get("/readyz").json()
        assert (ready["status"], ready["checks"]["data"]) == ("ok", "reloading")
        clock.now += settings.reload_poll_s + reloader.load_s + 0.1
        ready = client.get("/readyz").json()
        assert (ready["status"], ready["checks"]["data"]) == ("degraded", "behind")
        assert ready["checks"]["qpv2024"] != new.dataset.version
        assert ready["checks"]["database_qpv2024"] == new.dataset.version
        assert ready["checks"]["database_generation"] == "2"
        assert client.post("/v1/admin/reload").status_code == 200
        ready = client.get("/readyz").json()
        assert (ready["status"], ready["checks"]["data"]) == ("ok", "ok")
        assert ready["checks"]["qpv2024"] == new.dataset.version
        assert "database_qpv2024" not in ready["checks"]


def test_a_worker_follows_current_data_that_no_generation_announced(tmp_path: Path) -> None:
    url = _url(tmp_path)
    settings = Settings(database_url=url, geocoders=[], reload_poll_s=0.2)
    with TestClient(create_app(settings)) as client:
        reloader = client.app.state.reloader  # type: ignore[attr-defined]
        before = client.get("/readyz").json()["checks"]["qpv2024"]
        new = commit_unannounced(url, small_file(tmp_path, "two.geojson"))
        assert new.version != before
        wait_for(
            lambda: client.get("/readyz").json()["checks"]["qpv2024"] == new.version,
            what="the worker to load the current data",
        )
        assert reloader.generation == 1  # no generation announced it: followed all the same
        assert client.get("/readyz").json()["checks"]["data"] == "ok"
