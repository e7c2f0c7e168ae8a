"""docker-compose.yml as real processes, for machines without a container engine.

The same services as the compose file, each its own process on loopback: a PostgreSQL
cluster of its own with PostGIS (so a test may stop it), the one-shot ``qpv setup``
(migrate and import), API replicas (``qpv serve``) on their own ports, ``qpv worker``
processes, Redis (the machine's, under a key namespace of its own) and nginx in front with
deploy/nginx.conf. Used by tests/deploy/test_topology.py (``make e2e``, run by .ci/run) and
bench/bench_load.py; ``python -m deploy.topology`` brings it up by hand until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path(os.environ.get("QPV_PG_BIN", "/usr/lib/postgresql/15/bin"))
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
QPV = [sys.executable, "-c", "from app.cli import main; main()"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_config(folder: Path, upstreams: list[str], port: int) -> Path:
    """deploy/nginx.conf with loopback upstreams, port and pid file, written into ``folder``."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    # One `server apiN:8000` line per replica of the compose file, then the extra ones.
    lines = "\n".join(f"        server {h} max_fails=3 fail_timeout=10s;" for h in upstreams)
    text = re.sub(r"(        server api\d+:8000[^\n]*\n)+", lines + "\n", text, count=1)
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    text = text.replace("pid /tmp/nginx.pid;", f"pid {folder / 'nginx.pid'};")
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


@dataclass
class Postgres:
    """A PostgreSQL cluster of the topology's own, so that a fault test may stop it."""

    folder: Path
    port: int = field(default_factory=free_port)

    def _run(self, *args: str) -> None:
        # initdb and pg_ctl refuse to run as root: as root, run them as `postgres`.
        user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*user, *args], check=True, capture_output=True)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the service's database in this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/qpv"

    def init(self) -> None:
        """Create the cluster's files (trust authentication, loopback only)."""
        self.folder.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.folder / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.folder / "data"),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown: connections are cut)."""
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop"
        )


@dataclass
class Processes:
    """Child processes, each logging into its own file, stopped together."""

    folder: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _handles: list[IO[bytes]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Start ``args`` as ``name``, its output in ``<folder>/<name>.log``."""
        handle = (self.folder / f"{name}.log").open("ab")
        self._handles.append(handle)
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=dict(env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        """What ``name`` wrote so far."""
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Signal ``name``'s whole process group and wait for it."""
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        """Stop every process, the last started first."""
        for name in reversed(list(self.procs)):
            self.stop(name)
        for handle in self._handles:
            handle.close()


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    """Wait for ``url`` to answer 200 while ``proc`` lives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process ended with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: not ready after {timeout:.0f} s")


@dataclass
class Topology:
    """The running services: URLs, environment and handles for fault tests."""

    folder: Path
    env: dict[str, str]
    postgres: Postgres
    processes: Processes
    replicas: list[str]
    proxy: str | None
    workers: list[str]
    key: str = ""  # an API key with every scope and no practical rate limit

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of :attr:`key`."""
        return {"Authorization": f"Bearer {self.key}"}

    def create_key(self, name: str, scopes: str, rate_per_min: int) -> str:
        """A new API key (``qpv keys create``), as a client would be given it."""
        done = subprocess.run(
            [
                *QPV,
                "keys",
                "create",
                "--name",
                name,
                "--scopes",
                scopes,
                "--rate-per-min",
                str(rate_per_min),
            ],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip().splitlines()[-1]

    def start_worker(self) -> str:
        """Start one more ``qpv worker`` and wait until it is ready; its process name."""
        name = f"worker{len(self.workers) + 1}"
        proc = self.processes.start(name, [*QPV, "worker"], self.env)
        deadline = time.monotonic() + 120
        while "worker ready" not in self.processes.log(name):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{self.processes.log(name)[-2000:]}")
            time.sleep(0.1)
        self.workers.append(name)
        return name


def _environment(
    folder: Path, postgres: Postgres, redis_url: str, data_dir: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QPV_")}
    return (
        env
        | {
            "QPV_DATABASE_URL": postgres.url,
            "QPV_DATA_DIR": str(data_dir),
            "QPV_HOME": str(folder / "home"),
            "QPV_JOBS_DIR": str(folder / "jobs"),  # the volume shared by replicas and workers
            "QPV_REDIS_URL": redis_url,
            "QPV_JOBS_NAMESPACE": f"qpvtopo-{uuid.uuid4().hex[:8]}",
            "QPV_LOG_LEVEL": "INFO",
            # Closed, as in production: every /v1 call needs a key (made after `qpv setup`).
            "QPV_OPEN_ACCESS": "false",
            "QPV_API_KEY_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
        }
    )


def _setup(processes: Processes, env: Mapping[str, str]) -> None:
    """The compose file's one-shot `migrate` service."""
    proc = processes.start("migrate", [*QPV, "setup", "--offline"], env)
    if proc.wait() != 0:
        raise RuntimeError(f"qpv setup failed:\n{processes.log('migrate')[-3000:]}")


def _serve(processes: Processes, env: Mapping[str, str], index: int, workers: int) -> str:
    port = free_port()
    metrics = Path(env["QPV_HOME"]) / f"metrics-api{index}"
    proc = processes.start(
        f"api{index}",
        [*QPV, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        {**env, "QPV_METRICS_DIR": str(metrics)},
    )
    del proc  # watched by wait_until_ready through processes.procs
    return f"http://127.0.0.1:{port}"


def _proxy(processes: Processes, folder: Path, replicas: list[str], env: Mapping[str, str]) -> str:
    assert NGINX is not None
    port = free_port()
    config = nginx_config(folder, [r.removeprefix("http://") for r in replicas], port)
    processes.start(
        "nginx",
        [NGINX, "-g", "daemon off;", "-e", "stderr", "-p", str(folder), "-c", str(config)],
        env,
    )
    return f"http://127.0.0.1:{port}"


@contextmanager
def topology(
    data_dir: Path,
    *,
    replicas: int = 2,
    uvicorn_workers: int = 2,
    workers: int = 1,
    redis_url: str = "redis://127.0.0.1:6379/10",
    folder: Path | None = None,
    settings: Mapping[str, str] | None = None,
) -> Iterator[Topology]:
    """Bring the compose topology up as processes, yield it, then stop everything.

    ``settings``: extra ``QPV_*`` variables given to every service.
    """
    with ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qpv-topology-")))
            os.chmod(folder, 0o755)  # the postgres user walks into it
        postgres = Postgres(folder / "postgres")
        postgres.init()
        postgres.start()
        stack.callback(postgres.stop)
        processes = Processes(folder)
        stack.callback(processes.stop_all)
        env = _environment(folder, postgres, redis_url, data_dir) | dict(settings or {})
        _setup(processes, env)
        urls = [_serve(processes, env, i + 1, uvicorn_workers) for i in range(replicas)]
        for i, url in enumerate(urls):
            wait_until_ready(f"{url}/readyz", processes.procs[f"api{i + 1}"])
        proxy = _proxy(processes, folder, urls, env) if NGINX else None
        if proxy:
            wait_until_ready(f"{proxy}/healthz", processes.procs["nginx"], timeout=30)
        running = Topology(folder, env, postgres, processes, urls, proxy, [])
        running.key = running.create_key("topology", "lookup,batch,admin", 1_000_000)
        for _ in range(workers):
            running.start_worker()
        yield running


def main() -> None:
    """Bring the topology up and keep it until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m deploy.topology", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "geodata")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with topology(args.data_dir, replicas=args.replicas, workers=args.workers) as running:
        print(f"proxy    {running.proxy}\nreplicas {' '.join(running.replicas)}")
        print(f"database {running.postgres.url}\nlogs     {running.folder}")
        print(f"key      {running.key}", flush=True)
        with suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
