"""``qpv serve``: real uvicorn workers on loopback, metrics added up, JSON logs, start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


@pytest.mark.parametrize("workers", [1, 2])
def test_a_server_without_a_database_stops_with_one_line_saying_what_to_run(
    tmp_path: Path, workers: int
) -> None:
    missing = tmp_path / "nothing.sqlite3"
    log = tmp_path / "server.log"
    process = serve({"QPV_DATABASE_URL": f"sqlite:///{missing}"}, free_port(), workers, log)
    assert process.wait(timeout=120) == 2
    lines = log.read_text().splitlines()
    assert lines == [f"qpv: error: no database at {missing}: run 'qpv db upgrade'"]
    assert not missing.exists()


@contextmanager
def plain_uvicorn(database_url: str, log: Path, *flags: str) -> Iterator[str]:
    """`uvicorn app.main:create_app --factory` without the project's flags; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port), *flags],
            env=os.environ | {"QPV_DATABASE_URL": database_url, "QPV_GEOCODERS": "[]"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base
        time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_plain_uvicorn_writes_json_lines_too_and_no_access_line_of_its_own(
    loaded_sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "uvicorn.log"
    with plain_uvicorn(loaded_sqlite_url, log) as base:
        httpx.get(f"{base}/v1/point", params={"lat": 48.88699, "lon": 2.35313})
    entries = [json.loads(line) for line in log.read_text().splitlines() if line]
    assert [e["route"] for e in entries if e["logger"] == "app.access"][-1] == "/v1/point"
    assert not any(e["logger"] == "uvicorn.access" for e in entries)
    assert "48.88699" not in log.read_text()


# --------------------------------------------------------------------------- server limits


@contextmanager
def serving(database_url: str, **overrides: Any) -> Iterator[int]:
    """The app under uvicorn (in a thread) with `qpv serve`'s limits; yields its port."""
    import threading

    import uvicorn

    from app.main import create_app
    from app.serve import server_options
    from app.settings import Settings

    port = free_port()
    app = create_app(Settings(database_url=database_url, geocoders=[]))
    options = {**server_options(), **overrides}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.1)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def limited(loaded_sqlite_url: str) -> Iterator[int]:
    """The app under uvicorn with `qpv serve`'s limits (keep-alive shortened to 1 s)."""
    with serving(loaded_sqlite_url, timeout_keep_alive=1) as port:
        yield port


def _exchange(port: int, data: bytes, wait: float = 10) -> bytes:
    """Send raw bytes, return everything the server answers until it closes (or ``wait``)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return out


def _problem(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/problem+json" in head.lower()
    problem = json.loads(body)
    assert problem["status"] == status
    return status, problem


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /v1/point?lat=" + b"1" * 70_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * (64 << 10) + b"\r\n\r\n", 431),
        (
            b"GET /healthz HTTP/1.1\r\nHost: a\r\n"
            + b"".join(b"X-%d: %s\r\n" % (i, b"b" * 1000) for i in range(40))
            + b"\r\n",
            431,
        ),
        (b"GET /v1/qpv/\xff\xfe HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"FOO /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost a\r\n\r\n", 400),
    ],
    ids=["long-target", "big-header", "many-headers", "non-ascii", "unknown-method", "garbled"],
)
def test_requests_the_parser_refuses_are_problem_json_not_plain_text(
    limited: int, request_bytes: bytes, status: int
) -> None:
    got, problem = _problem(_exchange(limited, request_bytes))
    assert got == status
    assert len(str(problem["detail"])) < 200


def test_a_connection_that_sends_nothing_is_closed_after_the_keep_alive_time(
    limited: int,
) -> None:
    start = time.monotonic()
    assert _exchange(limited, b"") == b""
    assert time.monotonic() - start < 5  # closed by the server, not the 10 s client wait


def test_a_request_head_trickled_slowly_is_cut(limited: int) -> None:
    import socket

    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", limited), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed = False
        for _ in range(20):
            time.sleep(0.5)
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
    assert closed
    assert time.monotonic() - start < 8


def test_an_idle_keep_alive_connection_is_closed(limited: int) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", limited), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the server
        assert time.monotonic() - start < 5


def test_head_over_a_real_server_has_the_get_headers_and_no_body(limited: int) -> None:
    base = f"http://127.0.0.1:{limited}"
    get, head = httpx.get(f"{base}/healthz"), httpx.head(f"{base}/healthz")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]


def test_qpv_serve_runs_uvicorn_with_these_limits() -> None:
    from app.serve import server_options

    options = server_options()
    assert options["http"] == "app.protocol:LimitedHttpToolsProtocol"
    assert options["h11_max_incomplete_event_size"] == 32 * 1024
    assert options["timeout_keep_alive"] == 30
    assert options["limit_concurrency"] == 1024


def test_plain_uvicorn_at_trace_level_with_its_access_log_writes_no_address(
    loaded_sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "uvicorn.log"
    with plain_uvicorn(loaded_sqlite_url, log, "--log-level", "trace", "--access-log") as base:
        httpx.get(f"{base}/v1/address", params={"q": "12 rue Secrète 93140 Bondy"})
        httpx.get(f"{base}/v1/point", params={"lat": 48.88699, "lon": 2.35313})
        httpx.post(f"{base}/v1/batch", json=[{"q": "7 avenue Discrète Paris"}])
        httpx.get(f"{base}/v1/qpv/QN" + "Confidentielle" * 10)
    text, port = log.read_text(), base.rpartition(":")[2]
    entries = [json.loads(line) for line in text.splitlines() if line]
    assert [e["route"] for e in entries if e["logger"] == "app.access"][-1] == "/v1/qpv/{code}"
    assert not any(e["level"] in ("TRACE", "DEBUG") for e in entries if "uvicorn" in e["logger"])
    for secret in ("Secr", "Discr", "Confidentielle", "48.88699", "127.0.0.1:"):
        assert secret not in text.replace(f"127.0.0.1:{port}", ""), secret


def test_past_the_concurrency_limit_the_503_is_a_problem_too(loaded_sqlite_url: str) -> None:
    import socket

    with serving(loaded_sqlite_url, limit_concurrency=3) as port:
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        try:
            time.sleep(0.2)  # the server has accepted them
            status, problem = _problem(_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"))
        finally:
            for sock in held:
                sock.close()
    assert status == 503
    assert problem["title"] == "Service unavailable"


def test_a_server_on_a_database_the_code_does_not_know_does_not_start(tmp_path: Path) -> None:
    import sqlite3

    from app.db.migrate import upgrade

    path, log = tmp_path / "newer.sqlite3", tmp_path / "server.log"
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    process = serve({"QPV_DATABASE_URL": f"sqlite:///{path}"}, free_port(), 2, log)
    assert process.wait(timeout=120) == 2
    [line] = log.read_text().splitlines()
    assert line.startswith("qpv: error: the database sqlite:///")
    assert "is at revision 9999, which this code does not know" in line
