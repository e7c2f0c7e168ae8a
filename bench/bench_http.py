"""HTTP throughput of ``GET /v1/point`` as ``make run`` serves it, beside a bare FastAPI app.

Run with ``make bench`` (or ``python -m bench.bench_http`` after ``make data``). The service
runs as ``qpv serve --workers 2`` with what ``make run`` sets: open access, a Prometheus
multiprocess folder (metrics shared by the workers) and the JSON access log (written to a
file here, then counted); the reference is ``bench/bare_app.py`` under ``uvicorn --workers 2``.
wrk (32 connections, 2 threads) shares the 2 cores with them, on loopback.

All servers are started first, then measured in turn, round after round, so that a loaded
machine weighs on each alike. It prints, per server, the median requests/s, latency and CPU
time per request of its worker processes (steadier than requests/s on a shared machine), and
the ratio of each to the reference: the median of the per-round ratios and their spread.

Side by side: ``--variant LABEL=DIR[,NAME=VALUE...]`` (repeatable) serves the ``app`` package
of another checkout (``git worktree add /tmp/prev a84af63``) from the same database, with
extra environment variables if given (``--variant "no access log=.,QPV_ACCESS_LOG=false"``).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.topology import free_port

ROOT = Path(__file__).resolve().parents[1]
GEOJSON = (
    Path(os.environ.get("QPV_DATA_DIR", ROOT.parent / "shared" / "geodata"))
    / "qpv2024"
    / "qpv2024_wgs84_rounded4.geojson"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """One server under test and its measures (requests/s, p50 ms, p99 ms, CPU µs/request)."""

    label: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    path: str  # the lookup route
    ready: str  # a path answering 200 once the server can serve lookups
    runs: list[tuple[float, float, float, float]] = field(default_factory=list)
    url: str = ""
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = None


def _lua(path: str, n: int = 2000) -> str:
    """A wrk script cycling through random points around Paris, Lyon and Marseille."""
    rng = random.Random(42)
    centres = [(48.86, 2.35), (45.76, 4.84), (43.30, 5.37), (48.90, 2.48)]
    points = []
    for _ in range(n):
        lat, lon = rng.choice(centres)
        points.append(f'"lat={lat + rng.gauss(0, 0.05):.6f}&lon={lon + rng.gauss(0, 0.07):.6f}"')
    return (
        f"local q = {{{','.join(points)}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #q + 1\n"
        f'  return wrk.format("GET", "{path}?" .. q[i])\nend\n'
    )


def _start(server: Server, folder: Path) -> None:
    """Start the server, its output (the access log) in a file of ``folder``; wait for it."""
    port = free_port()
    server.url = f"http://127.0.0.1:{port}"
    server.log = folder / f"server-{port}.log"
    with server.log.open("wb") as log:
        server.proc = subprocess.Popen(
            [*server.command, "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=server.cwd,
            env=server.env,
            stdout=log,
            stderr=log,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(server.url + server.ready, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.label} did not start; see {server.log}")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants, alive now."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += _cpu_s(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def _wrk(server: Server, seconds: int, script: Path) -> tuple[float, float, float, float]:
    """Requests/s, p50 and p99 latency in ms, and the server's CPU µs per request."""
    assert server.proc is not None
    before = _cpu_s(server.proc.pid)
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(script), server.url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cpu = _cpu_s(server.proc.pid) - before
    if "Non-2xx" in out:
        raise RuntimeError(f"errors during the run of {server.label}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    return rps, pct("50"), pct("99"), cpu / count * 1e6


def _servers(specs: list[str], env: dict[str, str], folder: Path) -> list[Server]:
    """The bare reference, then each service variant (this checkout when none is given)."""
    bare = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--no-access-log"]
    servers = [
        Server(
            "bare FastAPI + STRtree (reference)",
            [*bare, "--log-level", "warning"],
            ROOT,
            dict(env, PYTHONPATH=str(ROOT)),
            "/point",
            "/docs",
        )
    ]
    for i, spec in enumerate(specs or ["QPV service GET /v1/point (make run)=."]):
        label, _, rest = spec.partition("=")
        folder_name, *assignments = rest.split(",")
        cwd = Path(folder_name).resolve()
        extra = dict(a.split("=", 1) for a in assignments)
        # ``python -m`` puts the working directory first on sys.path: its ``app`` package wins.
        served = dict(env, PYTHONPATH=str(cwd), QPV_METRICS_DIR=str(folder / f"metrics-{i}"))
        command = [sys.executable, "-m", "app.cli", "serve"]
        servers.append(Server(label, command, cwd, served | extra, "/v1/point", "/readyz"))
    return servers


def _environment() -> dict[str, str]:
    """What ``make run`` sets, with the database pinned for every checkout."""
    env = dict(os.environ, QPV_BENCH_GEOJSON=str(GEOJSON), QPV_OPEN_ACCESS="true")
    # A relative SQLite path would follow each variant's working directory: pin it here.
    url = env.get("QPV_DATABASE_URL", "sqlite:///var/qpv.sqlite3")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + str(ROOT / url.removeprefix("sqlite:///"))
    env["QPV_DATABASE_URL"] = url
    return env


def main() -> None:
    """Start every server, measure them in turn, print a comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk before each run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=DIR[,K=V]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        folder = Path(tmp)
        servers = _servers(args.variant, _environment(), folder)
        try:
            for server in servers:
                _start(server, folder)
            for server in servers:
                script = folder / f"{server.path.strip('/').replace('/', '-')}.lua"
                script.write_text(_lua(server.path))
            for _ in range(args.rounds):
                for server in servers:
                    script = folder / f"{server.path.strip('/').replace('/', '-')}.lua"
                    if args.warmup:
                        _wrk(server, args.warmup, script)
                    server.runs.append(_wrk(server, args.seconds, script))
            checks = [_check(server) for server in servers[1:]]
        finally:
            for server in servers:
                if server.proc is not None:
                    server.proc.terminate()
                    server.proc.wait(timeout=30)
        _print(servers, checks)


def _check(server: Server) -> str:
    """What shows that the service ran as ``make run`` does: access lines and metrics."""
    assert server.log is not None
    lines = server.log.read_text(errors="replace").count('"logger":"app.access"')
    text = httpx.get(server.url + "/metrics", timeout=10).text
    counted = sum(
        float(m.group(1))
        for m in re.finditer(
            r'^qpv_http_requests_total\{[^}]*route="/v1/point"[^}]*\} ([\d.e+]+)$', text, re.M
        )
    )
    return f"{server.label}: {lines} access lines, /metrics counts {counted:.0f} lookups"


def _print(servers: list[Server], checks: list[str]) -> None:
    ref = servers[0].runs
    print(f"{'server':44} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs':>7}  req/s each round")
    for s in servers:
        rps, p50, p99, cpu = (statistics.median(r[k] for r in s.runs) for k in range(4))
        each = " ".join(f"{r[0]:.0f}" for r in s.runs)
        print(f"{s.label:44} {rps:7.0f} {p50:7.2f} {p99:7.2f} {cpu:7.0f}  {each}")
    print("\nratio to the reference, per round (the two measured one after the other):")
    for s in servers[1:]:
        rates = [r[0] / b[0] for r, b in zip(s.runs, ref, strict=True)]
        cpus = [b[3] / r[3] for r, b in zip(s.runs, ref, strict=True)]
        print(
            f"{s.label}\n  req/s: median {statistics.median(rates):.2f}, "
            f"spread {min(rates):.2f}-{max(rates):.2f} ({' '.join(f'{x:.2f}' for x in rates)})"
            f"\n  CPU per request (reference / service): median {statistics.median(cpus):.2f}, "
            f"spread {min(cpus):.2f}-{max(cpus):.2f}"
        )
    print()
    for line in checks:
        print(line)


if __name__ == "__main__":
    main()
