"""The offline geocoder of two source trees, side by side, in CPU seconds.

``bench_geocoder.py`` times wall seconds, which swing by 2x when other jobs share the
machine. This driver runs the same seeded queries through the geocoder of each tree, in
alternating subprocesses (A B A B ...), and times ``LocalGeocoder.search`` in CPU seconds of
the process (best of the rounds; the geocoder is rebuilt for each round, so caches start
cold), which a loaded machine disturbs much less. Answers are compared too: both trees must
give the same best candidate for every query.

    .venv/bin/python bench/compare_geocoder.py /tmp/prev-geo . --seed 42 --paris-sample 20000

Each tree is imported with its own ``bench/bench_geocoder.py`` (queries and degradation)
and its own loading functions (``app.data.ban_import`` or, before it existed,
``app.geocoding.ban_import`` and ``LocalGeocoder.load``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _worker(tree: Path, seed: int, paris_sample: int) -> dict[str, Any]:
    sys.path.insert(0, str(tree))
    from app.db.migrate import upgrade
    from app.db.session import make_engine
    from bench import bench_geocoder as bg

    try:
        from app.data.ban_import import import_ban_files, load_local_geocoder
    except ImportError:  # the tree before the geocoder's storage moved to app/data
        from app.geocoding.ban_import import import_ban_files  # type: ignore[no-redef]

        from app.geocoding.local import LocalGeocoder

        load_local_geocoder = LocalGeocoder.load  # type: ignore[assignment]

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        import_ban_files(engine, [bg.BAN_BONDY, bg.BAN_PARIS])
        rnd = random.Random(seed)
        bondy = bg.read_rows(bg.BAN_BONDY)
        paris = rnd.sample(bg.read_rows(bg.BAN_PARIS), paris_sample)
        figures: dict[str, Any] = {"tree": str(tree)}
        for set_name, rows in (("bondy", bondy), ("paris", paris)):
            variants = {
                "clean": [bg.clean_query(r) for r in rows],
                "degraded": [bg.degrade(r, rnd) for r in rows],
            }
            for variant, queries in variants.items():
                geocoder = load_local_geocoder(engine)  # cold caches for every variant
                started = time.process_time()
                answers = [geocoder.search(q, 1) for q in queries]
                cpu = time.process_time() - started
                digest = hashlib.sha256(
                    repr([(a[0].id, a[0].score) if a else None for a in answers]).encode()
                ).hexdigest()[:16]
                figures[f"{set_name}/{variant}"] = {"n": len(queries), "cpu_s": cpu, "sha": digest}
        engine.dispose()
    return figures


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--paris-sample", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker.resolve(), args.seed, args.paris_sample)))
        return 0
    runs: dict[str, list[dict[str, Any]]] = {str(t): [] for t in args.trees}
    for _ in range(args.rounds):
        for tree in args.trees:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    *("--worker", str(tree), "--seed", str(args.seed)),
                    *("--paris-sample", str(args.paris_sample)),
                ],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            runs[str(tree)].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(json.dumps(_summary(runs), indent=2))
    return 0


def _summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for tree, results in runs.items():
        per_set: dict[str, Any] = {}
        for key in ("bondy/clean", "bondy/degraded", "paris/clean", "paris/degraded"):
            cpus = [r[key]["cpu_s"] for r in results]
            n = results[0][key]["n"]
            per_set[key] = {
                "addresses_per_cpu_s_best": round(n / min(cpus)),
                "addresses_per_cpu_s_all": [round(n / c) for c in cpus],
                "answers_sha": sorted({r[key]["sha"] for r in results}),
            }
        summary[tree] = per_set
    return summary


if __name__ == "__main__":
    sys.exit(main())
