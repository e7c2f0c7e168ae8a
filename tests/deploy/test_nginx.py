"""deploy/nginx.conf: nginx accepts it, and it proxies two real replicas with its limits."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from deploy.topology import NGINX, nginx_config
from tests.api.test_metrics import sample
from tests.conftest import free_port, running_server

pytestmark = pytest.mark.skipif(NGINX is None, reason="Debian's nginx: `make test` installs it")


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    assert NGINX is not None
    config = nginx_config(tmp_path, ["127.0.0.1:1", "127.0.0.1:2"], free_port())
    result = subprocess.run(
        [NGINX, "-t", "-q", "-e", "stderr", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def proxied(
    loaded_sqlite_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str]]]:
    """nginx on loopback in front of two replicas; yields its URL and the replicas' URLs."""
    assert NGINX is not None
    folder = tmp_path_factory.mktemp("nginx")
    settings = Settings(database_url=loaded_sqlite_url, geocoders=[])
    with (
        running_server(create_app(settings)) as one,
        running_server(create_app(settings)) as two,
    ):
        port = free_port()
        config = nginx_config(
            folder, [one.removeprefix("http://"), two.removeprefix("http://")], port
        )
        nginx = subprocess.Popen(
            [NGINX, "-g", "daemon off;", "-e", "stderr", "-p", str(folder), "-c", str(config)]
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield base, [one, two]
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def test_requests_through_the_proxy_reach_both_replicas_with_a_request_id(
    proxied: tuple[str, list[str]],
) -> None:
    base, replicas = proxied
    with httpx.Client(base_url=base) as client:
        for _ in range(20):
            response = client.get("/v1/point", params={"lat": 48.88699, "lon": 2.35313})
            assert response.status_code == 200
            assert len(response.headers["x-request-id"]) == 32  # made by nginx
        kept = client.get("/healthz", headers={"X-Request-ID": "caller-7"})
        assert kept.headers["x-request-id"] == "caller-7"
        assert client.get("/metrics").status_code == 404  # never exposed through the proxy
    served = [
        sample(httpx.get(f"{r}/metrics").text, "qpv_lookups_total", kind="point", status="in")
        for r in replicas
    ]
    assert sum(served) == 20 and min(served) > 0


def _raw(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        return conn.recv(4096)


def test_oversized_bodies_and_headers_are_refused_by_the_proxy(
    proxied: tuple[str, list[str]],
) -> None:
    base, _ = proxied
    big_body = b"POST /v1/batch HTTP/1.1\r\nHost: qpv\r\nContent-Length: 100000000\r\n\r\n"
    assert _raw(base, big_body).startswith(b"HTTP/1.1 413")
    big_header = b"GET /healthz HTTP/1.1\r\nHost: qpv\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    assert _raw(base, big_header).startswith(b"HTTP/1.1 400")
