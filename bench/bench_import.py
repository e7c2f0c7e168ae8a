"""CPU and wall time of `qpv data import` of a slightly different 2024 file over the official
one (SQLite), in this tree and in the trees given (an export of main, say), alternated in one
run so that the shared machine's load weighs on each alike.

Run (from the repository root):
    rm -rf /tmp/main-tree && mkdir /tmp/main-tree && git archive main | tar -x -C /tmp/main-tree
    QPV_DATA_DIR=/work/shared/geodata .venv/bin/python -m bench.bench_import /tmp/main-tree
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import QPV2024_GEOJSON

# Run in a child whose PYTHONPATH starts with the tree measured: that tree's `app` is used.
CHILD = """
import contextlib, io, sys, time
from app.cli import main
from app.data.importer import import_qpv_file
from app.db.migrate import upgrade
from app.db.session import make_engine
url, official, variant = sys.argv[1:4]
upgrade(url)
import_qpv_file(make_engine(url), __import__("pathlib").Path(official))
cpu, wall = time.process_time(), time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["data", "import", variant]) == 0
print(time.process_time() - cpu, time.perf_counter() - wall)
"""


def _variant(folder: Path) -> Path:
    source = json.loads(QPV2024_GEOJSON.read_text(encoding="utf-8"))
    source["features"][0]["properties"]["lib_qp"] += " (variant)"
    path = folder / "variant.geojson"
    path.write_text(json.dumps(source))
    return path


def _run(tree: Path, folder: Path, variant: Path, run: int) -> tuple[float, float]:
    url = f"sqlite:///{folder / f'{tree.name}-{run}.sqlite3'}"
    env = os.environ | {"PYTHONPATH": str(tree), "QPV_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(QPV2024_GEOJSON), str(variant)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, wall = done.stdout.split()[-2:]
    return float(cpu), float(wall)


def main() -> None:
    """Print the median CPU and wall seconds of each tree's import, over 3 alternated runs."""
    trees = [Path.cwd(), *(Path(arg).resolve() for arg in sys.argv[1:])]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        variant = _variant(folder)
        runs: dict[Path, list[tuple[float, float]]] = {tree: [] for tree in trees}
        for run in range(3):
            for tree in trees:
                runs[tree].append(_run(tree, folder, variant, run))
    for tree, measures in runs.items():
        cpu = statistics.median(m[0] for m in measures)
        wall = statistics.median(m[1] for m in measures)
        print(f"{tree}: qpv data import {cpu:.2f} s CPU, {wall:.2f} s wall (median of 3)")


if __name__ == "__main__":
    main()
