"""A mixed load held on the compose topology, with the memory of every process before and after.

``python -m bench.bench_load --seconds 300`` brings up deploy/topology.py (PostGIS, two
replicas of two uvicorn workers behind nginx, a job worker), then for ``--seconds``: wrk
(2 threads, 32 connections) through nginx cycles through point lookups, address lookups and
``/v1/qpv`` pages, while a Python thread posts a 2,000-row ``/v1/batch/csv`` every few seconds.
Printed: requests/s, p50/p99, every non-2xx, the batches' count and failures, and the RSS
of every process of the topology at the start and at the end (growth is what to look at).
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from deploy.topology import ROOT, Topology, topology

DATA_DIR = ROOT.parent / "shared" / "geodata"
ADDRESSES = [
    "4 rue Eric Tabarly 93140 Bondy",
    "2 rue Polonceau 75018 Paris",
    "10 avenue Gallieni Bondy",
    "12 rue de la Paix 75002 Paris",
    "45 boulevard de Belleville 75011 Paris",
    "3 rue des Ecoles 93140 Bondy",
]


def _paths(n: int = 3000) -> list[str]:
    """Request paths: 80 % points, 15 % addresses, 5 % quartier pages."""
    rng = random.Random(7)
    out = []
    for _ in range(n):
        draw = rng.random()
        if draw < 0.80:
            lat, lon = rng.choice([(48.86, 2.35), (48.90, 2.48), (45.76, 4.84), (43.30, 5.37)])
            out.append(
                f"/v1/point?lat={lat + rng.gauss(0, 0.04):.5f}&lon={lon + rng.gauss(0, 0.05):.5f}"
            )
        elif draw < 0.95:
            out.append("/v1/address?q=" + rng.choice(ADDRESSES).replace(" ", "+"))
        else:
            out.append(f"/v1/qpv?departement={rng.choice(['75', '93', '69', '13'])}&limit=20")
    return out


def _lua(paths: list[str]) -> str:
    quoted = ",".join(f'"{p}"' for p in paths)
    return (
        f"local q = {{{quoted}}}\nlocal i = 0\n"
        'request = function()\n  i = i % #q + 1\n  return wrk.format("GET", q[i])\nend\n'
    )


def _rss(topo: Topology) -> dict[str, int]:
    """RSS in MB of every process of the topology, children (uvicorn workers) included."""
    out: dict[str, int] = {}
    for name, proc in topo.processes.procs.items():
        if proc.poll() is not None:
            continue
        pids = [proc.pid]
        for pid in list(pids):
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                pids += [int(c) for c in children.read_text().split()]
        for i, pid in enumerate(pids):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            out[name if i == 0 else f"{name}/{pid}"] = kb // 1024
    return out


def _sample(topo: Topology, stop: threading.Event, timeline: list[tuple[float, int]]) -> None:
    """The API workers' summed RSS every 30 s: a plateau is warm caches, a slope a leak."""
    started = time.monotonic()
    while True:
        rss = _rss(topo)
        timeline.append(
            (
                time.monotonic() - started,
                sum(v for k, v in rss.items() if "/" in k and k.startswith("api")),
            )
        )
        if stop.wait(30):
            return


class Batches(threading.Thread):
    """Posts a 2,000-row CSV of coordinates every ``every`` seconds until stopped."""

    def __init__(self, base: str, every: float, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.base, self.every, self.headers = base, every, headers
        self.outcomes: Counter[str] = Counter()
        self.stop = threading.Event()
        rng = random.Random(3)
        rows = [
            f"{i};{48.86 + rng.gauss(0, 0.03):.5f};{2.35 + rng.gauss(0, 0.04):.5f}"
            for i in range(2000)
        ]
        self.body = ("id;lat;lon\n" + "\n".join(rows) + "\n").encode()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=60) as client:
            while not self.stop.wait(self.every):
                response = client.post(
                    "/v1/batch/csv",
                    files={"data": ("b.csv", self.body, "text/csv")},
                    data={"lat": "lat", "lon": "lon"},
                )
                whole = response.status_code == 200 and response.text.count("\n") == 2001
                self.outcomes["ok" if whole else f"failed {response.status_code}"] += 1


def _wrk(base: str, seconds: int, connections: int, key: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(_paths()))
    try:
        return subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                "-H",
                f"Authorization: Bearer {key}",
                base,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        Path(script.name).unlink()


def main() -> None:
    """Bring the topology up, hold the load, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch-every", type=float, default=5.0)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    with topology(args.data_dir) as topo:
        assert topo.proxy is not None
        _wrk(topo.proxy, 10, args.connections, topo.key)  # warm-up: caches, lazy imports
        before = _rss(topo)
        batches = Batches(topo.proxy, args.batch_every, topo.headers)
        batches.start()
        timeline: list[tuple[float, int]] = []
        sampler = threading.Thread(target=_sample, args=(topo, batches.stop, timeline), daemon=True)
        sampler.start()
        out = _wrk(topo.proxy, args.seconds, args.connections, topo.key)
        batches.stop.set()
        batches.join()
        sampler.join()
        after = _rss(topo)
    print(out)
    print(f"batches of 2,000 rows through nginx: {dict(batches.outcomes)}")
    print(
        "RSS of all the API workers together, MB, every 30 s: "
        + ", ".join(f"{t:.0f}s {mb}" for t, mb in timeline)
    )
    print(f"{'process':<24}{'RSS start MB':>14}{'RSS end MB':>12}{'growth':>8}")
    for name in before:
        end = after.get(name)
        growth = "" if end is None else f"{end - before[name]:+d}"
        print(f"{name:<24}{before[name]:>14}{'gone' if end is None else end:>12}{growth:>8}")


if __name__ == "__main__":
    main()
