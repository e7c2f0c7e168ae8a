"""``qpv gaps`` on a tagged file of 1,000,000 rows with two group-by columns, beside pandas.

``python -m bench.bench_gaps [--rows N] [--runs R]``: writes a seeded tagged CSV shaped like
the batch output (input columns + the qpv_* and geocoding columns) under bench/results/,
then times, in alternation and each in a fresh process, (1) ``qpv gaps FILE --outcome
admis --by academie,sexe -o report.json`` and (2) a pandas script doing only the bare counts
(read the same columns, groupby académie x sexe x status, size and sum). Peak memory is the
child's maximum resident set size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
ACADEMIES = [f"Académie {i:02d}" for i in range(30)]
STATUSES = ["in", "out", "commune_without_qpv", "near_boundary", "street_partial", "not_found"]
PANDAS_BARE = """
import sys, pandas as pd
t = pd.read_csv(sys.argv[1], usecols=["academie", "sexe", "admis", "qpv_status"], dtype="string")
t["y"] = t["admis"] == "oui"
print(len(t.groupby(["academie", "sexe", "qpv_status"])["y"].agg(["size", "sum"])))
"""


def write_input(path: Path, rows: int, seed: int = 1) -> None:
    """A tagged CSV of ``rows`` rows, as the batch pipeline writes it."""
    rng = np.random.default_rng(seed)
    status = rng.choice(STATUSES, rows, p=[0.2, 0.6, 0.1, 0.05, 0.03, 0.02])
    inside = status == "in"
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "adresse": "12 rue de la République",
            "code_postal": rng.choice(["75018", "93140", "69001", "13003"], rows),
            "commune": "Paris",
            "sexe": rng.choice(["F", "M"], rows),
            "pcs": rng.choice(["très favorisée", "favorisée", "moyenne", "défavorisée"], rows),
            "academie": rng.choice(ACADEMIES, rows),
            "voeu": rng.choice(["Licence", "BUT", "BTS", "CPGE"], rows),
            "admis": np.where(rng.random(rows) < np.where(inside, 0.6, 0.7), "oui", "non"),
            "qpv_status": status,
            "qpv_code": np.where(inside, "QN07511M", ""),
            "qpv_name": np.where(inside, "Goutte D'Or", ""),
            "qpv_distance_m": "",
            "qpv_geography": "2024",
            "qpv_reason": "",
            "latitude": rng.uniform(48.8, 48.9, rows).round(6),
            "longitude": rng.uniform(2.3, 2.4, rows).round(6),
            "result_label": "12 Rue de la République 75018 Paris",
            "result_score": 0.97,
            "result_type": "housenumber",
            "result_citycode": "75118",
            "result_postcode": "75018",
        }
    )
    frame.to_csv(path, index=False)


def main() -> None:
    """Print seconds and peak MB of both commands, run by run."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    src = RESULTS / f"tagged-{args.rows}.csv"
    if not src.exists():
        write_input(src, args.rows)
    print(f"input: {src.name}, {src.stat().st_size / 2**20:.0f} MiB, {args.rows:,} rows")
    qpv = Path(sys.executable).with_name("qpv")
    gaps = [str(qpv), "gaps", str(src), "--outcome", "admis", "--by", "academie,sexe"]
    for run in range(args.runs):
        for label, command in (
            ("qpv gaps (json report)", [*gaps, "-o", str(RESULTS / "gaps.json")]),
            ("pandas groupby, bare counts", [sys.executable, "-c", PANDAS_BARE, str(src)]),
        ):
            seconds, cpu, peak = measure(command)
            print(
                f"run {run + 1}  {label:30} {seconds:6.2f} s wall  {cpu:6.2f} s CPU  "
                f"peak RSS {peak:6.0f} MB"
            )
    breakdown(src)


def breakdown(src: Path) -> None:
    """Where ``qpv gaps`` spends its time, in this process (imports excluded)."""
    from app.stats import service, source

    started = time.process_time()
    ind = service.indicator_of("admis")
    analysis = service.analysis_of(ind, "academie,sexe", 11)
    table = source.read_table(src, analysis.required_columns())
    read = time.process_time()
    report = service.report_of(table, analysis)
    analysed = time.process_time()
    service.rendered(report, service.ReportFormat.JSON)
    rendered = time.process_time()
    print(
        f"in-process CPU: read {read - started:.2f} s, analysis {analysed - read:.2f} s, "
        f"JSON {rendered - analysed:.2f} s"
    )


# A fresh parent per measurement, so that its children's peak RSS is this child's alone.
_PEAK = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(u.ru_maxrss, u.ru_utime + u.ru_stime)"
)


def measure(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *command], check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    peak, cpu = done.stdout.strip().splitlines()[-1].split()
    return seconds, float(cpu), int(peak) / 1024


if __name__ == "__main__":
    main()
