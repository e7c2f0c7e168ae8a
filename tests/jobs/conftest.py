"""Real Redis, real ``qpv worker`` processes, a real app: the fixtures of the job tests.

Every test session works under its own Redis key namespace (``qpvtest-<random>``, on the
database of QPV_TEST_JOBS_REDIS), so parallel runs and other engineers' data never meet;
its keys are deleted at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import pytest
import redis
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

JOBS_REDIS = os.environ.get("QPV_TEST_JOBS_REDIS", "redis://127.0.0.1:6379/9")
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@pytest.fixture(scope="session")
def session_namespace() -> Iterator[str]:
    """This session's key prefix; every key under it is deleted afterwards."""
    client = redis.Redis.from_url(JOBS_REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"job tests need Redis at {JOBS_REDIS} (`make services`): {exc}")
    namespace = f"qpvtest-{uuid.uuid4().hex[:10]}"
    yield namespace
    for pattern in (f"{namespace}*", f"saq:{namespace}*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)
    client.close()


@pytest.fixture
def job_settings(
    request: pytest.FixtureRequest, session_namespace: str, tmp_path: Path, loaded_sqlite_url: str
) -> Settings:
    """Settings of one test: its own queue and folder, short lease, sweep and chunks."""
    return Settings(
        database_url=loaded_sqlite_url,
        geocoders=[],
        redis_url=JOBS_REDIS,
        jobs_namespace=f"{session_namespace}-{uuid.uuid4().hex[:6]}",
        jobs_dir=tmp_path / "jobs",
        job_chunk_rows=1000,
        job_lease_s=2,
        job_sweep_s=1,
        job_ttl_s=3600,
        log_level="INFO",
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a ``qpv worker`` these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QPV_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        env[f"QPV_{name.upper()}"] = text
    return env


@dataclass
class WorkerPool:
    """``qpv worker`` child processes, each logging to its own file."""

    settings: Settings
    folder: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    _handles: list[IO[bytes]] = field(default_factory=list)

    def start(self, n: int) -> None:
        """Start ``n`` workers and wait until each says it is ready."""
        for _ in range(n):
            log = self.folder / f"worker-{len(self.procs)}.log"
            handle = log.open("wb")
            self._handles.append(handle)
            proc = subprocess.Popen(
                [sys.executable, "-c", "from app.cli import main; main()", "worker"],
                cwd=ROOT,
                env=settings_env(self.settings),
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            self.procs.append(proc)
            self.logs.append(log)
        deadline = time.monotonic() + 60
        for proc, log in zip(self.procs[-n:], self.logs[-n:], strict=True):
            while b"worker ready" not in log.read_bytes():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"worker not ready:\n{log.read_text()}"
                time.sleep(0.1)

    def by_pid(self, pid: int) -> subprocess.Popen[bytes]:
        """The worker process with this pid."""
        return next(p for p in self.procs if p.pid == pid)

    def output(self) -> str:
        """Everything the workers logged so far."""
        return "\n".join(log.read_text(errors="replace") for log in self.logs)

    def stop(self) -> None:
        """SIGTERM every live worker and wait for it."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for handle in self._handles:
            handle.close()


@pytest.fixture
def workers(job_settings: Settings, tmp_path: Path) -> Iterator[WorkerPool]:
    """A pool with no worker yet (``workers.start(n)``), stopped after the test."""
    pool = WorkerPool(job_settings, tmp_path)
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture
def jobs_client(job_settings: Settings) -> Iterator[TestClient]:
    """The app on the test's settings."""
    with TestClient(create_app(job_settings)) as client:
        yield client


def wait_for(check: Callable[[], T], timeout: float = 60, what: str = "condition") -> T:
    """Poll ``check`` until it returns something true (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value
