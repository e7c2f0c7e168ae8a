"""The offline geocoder at national scale: import, store size, memory per process, speed.

Input: a folder of BAN files (``bench/make_national_ban.py`` makes a synthetic national
one). Steps, each timed in CPU and wall seconds:

1. import every file into a fresh SQLite database (``import_ban_files``);
2. build the mapped store from the database (``geocoder_tables``);
3. start 4 processes (2 API workers + 2 batch workers in production) that each open the
   store and geocode a seeded sample of addresses; each reports its start-up time, its
   addresses/s and its memory (``/proc/self/smaps_rollup``: RSS, PSS, shared, private);
4. with ``--formats``: the same street and house-number lookups on the store (numpy
   memmap) and on a SQLite file with the right indexes (the alternative measured).

    nice -n 10 .venv/bin/python bench/bench_national.py BAN_DIR [--work DIR] [--sample 20000]
        [--processes 4] [--formats] [--json bench/results/national.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.data.ban_import import geocoder_tables, import_ban_files, load_local_geocoder  # noqa: E402
from app.db.migrate import upgrade  # noqa: E402
from app.db.session import make_engine  # noqa: E402
from app.geocoding.base import AddressQuery  # noqa: E402
from app.geocoding.local.store import open_store  # noqa: E402

NO_COMMUNE = 300  # queries per process without postcode or city


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _memory() -> dict[str, float]:
    """This process's memory in MB, from smaps_rollup."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        if key in ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def sample_queries(store_dir: Path, n: int, seed: int) -> list[tuple[str, str, str]]:
    """(query text, text without commune, expected BAN id) of n addresses drawn uniformly."""
    streets, addresses = open_store(store_dir)
    rng = random.Random(seed)
    out = []
    owner = np.searchsorted(streets.end, np.arange(len(addresses)), side="right")
    for a in sorted(rng.sample(range(len(addresses)), min(n, len(addresses)))):
        s = int(owner[a])
        rep = addresses.rep_table[int(addresses.rep[a])]
        num = f"{int(addresses.numero[a])}{' ' + rep if rep else ''}"
        bare = f"{num} {streets.name[s]}"
        text = f"{bare} {streets.postcode[s]} {streets.city[s]}"
        expected = addresses.id_exceptions.get(a) or (
            f"{streets.ban_id[s]}_{int(addresses.numero[a]):05d}" + (f"_{rep}" if rep else "")
        )
        out.append((text, bare, expected))
    rng.shuffle(out)
    return out


def worker(url: str, store_root: str, queries: list[tuple[str, str, str]], out: Any) -> None:
    """One serving process: open the store, geocode the sample, report time and memory."""
    before = _memory()
    started, started_cpu = time.perf_counter(), time.process_time()
    engine = make_engine(url)
    geocoder = load_local_geocoder(engine, Path(store_root))
    geocoder.search(AddressQuery(q=queries[0][0]), limit=1)
    startup = (time.perf_counter() - started, time.process_time() - started_cpu)
    after_start = _memory()
    rates = {}
    for name, texts in (
        ("clean", [(t, e) for t, _, e in queries]),
        # No postcode, no city: the street searched in the whole of France.
        ("no_commune", [(b, e) for _, b, e in queries[:NO_COMMUNE]]),
    ):
        cpu = time.process_time()
        right = 0
        for text, expected in texts:
            found = geocoder.search(AddressQuery(q=text), limit=1)
            right += bool(found) and found[0].id == expected
        cpu = time.process_time() - cpu
        rates[name] = {"n": len(texts), "per_cpu_s": round(len(texts) / cpu), "right_id": right}
    out.put(
        {
            "pid": os.getpid(),
            "startup_wall_s": round(startup[0], 2),
            "startup_cpu_s": round(startup[1], 2),
            "geocoding": rates,
            "memory_before_load_mb": before,
            "memory_after_start_mb": after_start,
            "memory_after_queries_mb": _memory(),
        }
    )
    time.sleep(3)  # stay alive while the others measure: their PSS counts the sharing


def serve(url: str, store_root: Path, queries: list[tuple[str, str, str]], n: int) -> list[Any]:
    """n processes at once, each geocoding its own share of the queries."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(url, str(store_root), queries[i::n], out))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return results


def compare_formats(store_dir: Path, work: Path, n: int, seed: int) -> dict[str, Any]:
    """Street-by-key-in-commune then address-by-number lookups: numpy store vs SQLite."""
    streets, addresses = open_store(store_dir)
    assert streets.lookups is not None
    keys = [streets.lookups.arrays[k] for k in ("s_key_off", "s_key_blob")]
    from app.geocoding.local.columns import StringColumn
    from app.geocoding.local.index import index_streets

    key_col = StringColumn(keys[0], keys[1])
    rng = random.Random(seed)
    probes = []
    for s in rng.sample(range(len(streets)), min(n, len(streets))):
        lo, hi = int(streets.start[s]), int(streets.end[s])
        num = int(addresses.numero[rng.randrange(lo, hi)]) if hi > lo else 1
        probes.append((key_col[s], streets.citycode[s], num))
    # numpy memmap store: hash lookup, commune filter, binary search of the number.
    _, open_wall, _ = _timed(lambda: index_streets(open_store(store_dir)[0]))
    ix = index_streets(streets)

    def numpy_lookups() -> int:
        found = 0
        for key, code, num in probes:
            for s in ix.by_key.get(key):
                if streets.citycode[s] == code:
                    lo, hi = int(streets.start[s]), int(streets.end[s])
                    i = lo + int(np.searchsorted(addresses.numero[lo:hi], num))
                    found += i < hi and float(addresses.lon[i]) != 0.0
        return found

    db = work / "formats.sqlite3"
    db.unlink(missing_ok=True)

    def build_sqlite() -> None:
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE streets (id INTEGER PRIMARY KEY, key TEXT, citycode TEXT)")
        con.execute("CREATE TABLE addresses (street INTEGER, numero INTEGER, lon REAL, lat REAL)")
        con.executemany(
            "INSERT INTO streets VALUES (?, ?, ?)",
            zip(range(len(streets)), key_col, streets.citycode, strict=True),
        )
        owner = np.repeat(np.arange(len(streets)), streets.end - streets.start)
        con.executemany(
            "INSERT INTO addresses VALUES (?, ?, ?, ?)",
            zip(owner.tolist(), addresses.numero.tolist(), addresses.lon.tolist(),
                addresses.lat.tolist(), strict=True),
        )  # fmt: skip
        con.execute("CREATE INDEX ix_key ON streets (key, citycode)")
        con.execute("CREATE INDEX ix_num ON addresses (street, numero)")
        con.commit()
        con.close()

    _, sqlite_build_wall, sqlite_build_cpu = _timed(build_sqlite)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    def sqlite_lookups() -> int:
        found = 0
        for key, code, num in probes:
            for (s,) in con.execute(
                "SELECT id FROM streets WHERE key = ? AND citycode = ?", (key, code)
            ).fetchall():
                row = con.execute(
                    "SELECT lon FROM addresses WHERE street = ? AND numero >= ? "
                    "ORDER BY numero LIMIT 1",
                    (s, num),
                ).fetchone()
                found += row is not None
        return found

    found_np, _, np_cpu = _timed(numpy_lookups)
    found_sql, _, sql_cpu = _timed(sqlite_lookups)
    return {
        "probes": len(probes),
        "numpy_lookups_per_cpu_s": round(len(probes) / np_cpu),
        "sqlite_lookups_per_cpu_s": round(len(probes) / sql_cpu),
        "found": [found_np, found_sql],
        "numpy_open_s": round(open_wall, 3),
        "numpy_store_mb": round(_du(store_dir) / 2**20, 1),
        "sqlite_mb": round(db.stat().st_size / 2**20, 1),
        "sqlite_build_cpu_s": round(sqlite_build_cpu, 1),
        "sqlite_build_wall_s": round(sqlite_build_wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("ban_dir", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qpv-bench-national"))
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--formats", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    url = f"sqlite:///{args.work / 'qpv.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    paths = sorted(args.ban_dir.glob("adresses-*.csv*"))
    report: dict[str, Any] = {"files": len(paths), "load_average": os.getloadavg()}
    reports, wall, cpu = _timed(lambda: import_ban_files(engine, paths))
    report["rows"] = sum(r.addresses for r in reports)
    report["streets"] = sum(r.streets for r in reports)
    report["db_import"] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}
    store_root = args.work / "geocoder"
    _, wall, cpu = _timed(lambda: geocoder_tables(engine, store_root))
    report["store_build"] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}
    (store_dir,) = [p for p in store_root.iterdir() if p.is_dir()]
    report["store_mb"] = round(_du(store_dir) / 2**20, 1)
    report["sqlite_db_mb"] = round((args.work / "qpv.sqlite3").stat().st_size / 2**20, 1)
    queries = sample_queries(store_dir, args.sample, args.seed)
    report["processes"] = serve(url, store_root, queries, args.processes)
    if args.formats:
        report["formats"] = compare_formats(store_dir, args.work, args.sample, args.seed)
    report["load_average_end"] = os.getloadavg()
    write_report(report, args.json)
    return 0


def write_report(report: dict[str, Any], path: Path | None) -> None:
    """The report printed as JSON, and written to ``path`` when given."""
    text = json.dumps(report, indent=2)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
