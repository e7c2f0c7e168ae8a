"""``qpv serve``: real uvicorn workers on loopback, metrics added up, JSON logs, start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.test_metrics import sample
from tests.conftest import free_port


def serve(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    """``qpv serve`` in a child process, its output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=os.environ | env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    """Poll /readyz until it answers 200 (start-up is slow on a loaded machine)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError("the server did not become ready")


@pytest.fixture(scope="module")
def server(
    loaded_sqlite_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, Path]]:
    """Two workers sharing a metrics folder that holds a previous server's file."""
    folder = tmp_path_factory.mktemp("serve")
    metrics = folder / "metrics"
    metrics.mkdir()
    (metrics / "counter_999999.db").write_bytes(b"stale")
    log, port = folder / "server.log", free_port()
    env = {
        "QPV_DATABASE_URL": loaded_sqlite_url,
        "QPV_GEOCODERS": "[]",
        "QPV_METRICS_DIR": str(metrics),
    }
    process = serve(env, port, 2, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base, metrics, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_metrics_add_up_every_workers_requests(server: tuple[str, Path, Path]) -> None:
    base, metrics, _ = server
    assert not (metrics / "counter_999999.db").exists()  # emptied at start

    def get(_: int) -> int:
        # A connection per request, so that both workers get some.
        with httpx.Client(base_url=base, timeout=30) as client:
            return client.get("/v1/point", params={"lat": 48.88699, "lon": 2.35313}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(get, range(60))) == {200}
    text = httpx.get(f"{base}/metrics").text
    labels = {"method": "GET", "route": "/v1/point", "status": "200"}
    assert sample(text, "qpv_http_requests_total", **labels) == 60
    assert sample(text, "qpv_lookups_total", kind="point", status="in") == 60
    assert len({p.stem.split("_")[1] for p in metrics.glob("counter_*.db")}) == 2


def test_logs_are_json_lines_without_query_strings(server: tuple[str, Path, Path]) -> None:
    base, _, log = server
    httpx.get(f"{base}/v1/point", params={"lat": 48.88699, "lon": 2.35313})
    time.sleep(0.5)
    lines = log.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line, uvicorn's included
    access = [e for e in entries if e["logger"] == "app.access"]
    assert access and all(e["route"] == "/v1/point" for e in access[-1:])
    assert {"ts", "level", "request_id", "status", "duration_ms"} <= set(access[-1])
    assert any(e["logger"].startswith("uvicorn") for e in entries)
    assert "48.88699" not in log.read_text()


def test_a_server_without_a_database_stops_with_one_line_saying_what_to_run(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nothing.sqlite3"
    log = tmp_path / "server.log"
    process = serve({"QPV_DATABASE_URL": f"sqlite:///{missing}"}, free_port(), 1, log)
    assert process.wait(timeout=120) != 0
    messages = [json.loads(line)["message"] for line in log.read_text().splitlines() if line]
    assert f"qpv: error: no database at {missing}: run 'qpv db upgrade'" in messages
    assert not missing.exists()


def test_plain_uvicorn_writes_json_lines_too_and_no_access_line_of_its_own(
    loaded_sqlite_url: str, tmp_path: Path
) -> None:
    log, port = tmp_path / "uvicorn.log", free_port()
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=os.environ | {"QPV_DATABASE_URL": loaded_sqlite_url, "QPV_GEOCODERS": "[]"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        httpx.get(f"{base}/v1/point", params={"lat": 48.88699, "lon": 2.35313})
        time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    entries = [json.loads(line) for line in log.read_text().splitlines() if line]
    assert [e["route"] for e in entries if e["logger"] == "app.access"][-1] == "/v1/point"
    assert not any(e["logger"] == "uvicorn.access" for e in entries)
    assert "48.88699" not in log.read_text()
