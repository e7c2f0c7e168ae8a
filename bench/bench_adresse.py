"""API Adresse's interface on the offline tables: autocompletion per keystroke and reverse.

On a geocoder store (the national synthetic one of ``bench/make_national_ban.py`` and
``bench/bench_national.py``, or Paris+Bondy from a database), in one process:

1. open the store, build the completion index and the reverse grid (CPU seconds, private
   memory added, from ``/proc/self/smaps_rollup``);
2. type a seeded sample of addresses keystroke by keystroke ("4", "4 r", "4 ru"... up to
   "4 Rue X 93140 Bondy") and time each ``complete`` call (thread CPU and wall, per call);
   beside it, the same prefixes through ``LocalGeocoder.search`` (what the web page called
   for its suggestions before: ``/v1/address``), as a ratio in the same run;
3. reverse geocode the sample's points moved by up to 30 m and time each ``nearest``.

    nice -n 10 .venv/bin/python bench/bench_adresse.py --store DIR [--sample 300] [--seed 42]
    .venv/bin/python bench/bench_adresse.py --database sqlite:///var/qpv.sqlite3
    nice -n 10 .venv/bin/python bench/bench_adresse.py --ban-dir /tmp/national/ban26m \
        --store /tmp/national/store     # builds the store from the files first if missing

``--ban-dir`` writes the store straight from the BAN files (two passes over them, no
database): the same tables as ``qpv geocoder import`` + the mapped store, in less time.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.geocoding.ban_file import read_ban_file, streets_to_store  # noqa: E402
from app.geocoding.base import AddressQuery  # noqa: E402
from app.geocoding.local import LocalGeocoder  # noqa: E402
from app.geocoding.local.complete import completer  # noqa: E402
from app.geocoding.local.reverse import reverse_index  # noqa: E402
from app.geocoding.local.store import is_store, open_store, write_store  # noqa: E402
from app.geocoding.local.tables import AddressRecord, StreetRecord  # noqa: E402
from bench.bench_national import write_report  # noqa: E402


def _private_mb() -> float:
    out = 0.0
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        if key in ("Private_Clean", "Private_Dirty"):
            out += int(value.split()[0]) / 1024
    return round(out, 1)


def _step(fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    before, wall, cpu = _private_mb(), time.perf_counter(), time.process_time()
    out = fn()
    return out, {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "private_mb_added": round(_private_mb() - before, 1),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ms = np.array(values) * 1000
    return {f"p{q}": round(float(np.percentile(ms, q)), 3) for q in (50, 95, 99)} | {
        "max": round(float(ms.max()), 3),
        "n": len(values),
    }


def sample(geocoder: LocalGeocoder, n: int, seed: int) -> list[tuple[str, int]]:
    """(full text, address position) of n addresses drawn uniformly."""
    streets, addresses, _ = geocoder.tables
    rng = random.Random(seed)
    owner = np.searchsorted(np.asarray(streets.end), np.arange(len(addresses)), side="right")
    out = []
    for a in sorted(rng.sample(range(len(addresses)), min(n, len(addresses)))):
        s = int(owner[a])
        cand = geocoder.address_candidate(s, a, 1.0)
        out.append((cand.label, a))
    return out


def keystrokes(text: str) -> list[str]:
    """Every prefix of at least 3 characters, as a form sends them."""
    return [text[:i] for i in range(3, len(text) + 1)]


def type_addresses(geocoder: LocalGeocoder, texts: list[str]) -> dict[str, Any]:
    """Each address typed keystroke by keystroke through ``complete`` and ``search``."""
    complete = completer(geocoder)
    timings: dict[str, dict[str, list[float]]] = {
        name: {"cpu": [], "wall": []} for name in ("complete", "search")
    }
    first_right = 0
    for text in texts:
        for typed in keystrokes(text):
            for name, call in (
                ("complete", lambda t=typed: complete.complete(t, 5)),
                ("search", lambda t=typed: geocoder.search(AddressQuery(q=t), 5)),
            ):
                cpu, wall = time.thread_time(), time.perf_counter()
                found = call()
                timings[name]["cpu"].append(time.thread_time() - cpu)
                timings[name]["wall"].append(time.perf_counter() - wall)
                if name == "complete" and typed == text and found and found[0].label == text:
                    first_right += 1
    report: dict[str, Any] = {
        name: {"cpu_ms": _percentiles(t["cpu"]), "wall_ms": _percentiles(t["wall"])}
        for name, t in timings.items()
    }
    report["complete"]["first_right_when_typed_whole"] = f"{first_right}/{len(texts)}"
    report["p95_cpu_ratio_search_over_complete"] = round(
        report["search"]["cpu_ms"]["p95"] / report["complete"]["cpu_ms"]["p95"], 2
    )
    return report


def reverse(geocoder: LocalGeocoder, positions: list[int], seed: int) -> dict[str, Any]:
    """The sample's points moved by up to 30 m, reverse geocoded one by one."""
    _, addresses, _ = geocoder.tables
    index = reverse_index(geocoder)
    rng = np.random.default_rng(seed)
    cpu_times, found_within = [], 0
    for a in positions:
        lon = float(addresses.lon[a]) + rng.uniform(-0.0003, 0.0003)
        lat = float(addresses.lat[a]) + rng.uniform(-0.0002, 0.0002)
        cpu = time.thread_time()
        near = index.nearest(lon, lat, 1)
        cpu_times.append(time.thread_time() - cpu)
        found_within += bool(near) and near[0].distance_m <= 35.0
    return {
        "cpu_ms": _percentiles(cpu_times),
        "found_within_35_m": f"{found_within}/{len(positions)}",
    }


def _street_chunks(paths: list[Path]) -> Any:
    """Street rows of every file, ids in file order (as an import into a database numbers them)."""
    first = 0
    for path in paths:
        rows = streets_to_store(read_ban_file(path))
        yield [
            StreetRecord(first + i, s.citycode, s.postcode, s.city, s.old_city, s.delivery_city,
                         s.name, s.name_norm, s.ban_id, s.lon, s.lat)
            for i, s in enumerate(rows)
        ]  # fmt: skip
        first += len(rows)


def _address_chunks(paths: list[Path]) -> Any:
    """Address rows of every file, sorted by street then number (a second read of the files)."""
    first = 0
    for path in paths:
        ban = read_ban_file(path)
        street = np.asarray(ban.street_index, dtype=np.int64)
        order = np.lexsort((np.asarray(ban.rep), np.asarray(ban.numero), street)).tolist()
        yield [
            AddressRecord(first + int(street[k]), ban.numero[k], ban.rep[k], ban.lon[k],
                          ban.lat[k], ban.ban_id[k])
            for k in order
        ]  # fmt: skip
        first += len(ban.streets)


def store_from_files(ban_dir: Path, store: Path) -> None:
    """The geocoder store of every BAN file of a folder, written without a database."""
    paths = sorted(ban_dir.glob("adresses-*.csv*"))
    write_store(store, _street_chunks(paths), _address_chunks(paths))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--store", type=Path, help="a geocoder store folder (meta.json)")
    where.add_argument("--database", help="a database URL with the offline geocoder")
    parser.add_argument("--ban-dir", type=Path, help="with --store: build it from these files")
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {"load_average": os.getloadavg()}
    if args.ban_dir and args.store and not is_store(args.store):
        _, report["store_from_files"] = _step(lambda: store_from_files(args.ban_dir, args.store))
    if args.store:
        geocoder, report["open"] = _step(lambda: LocalGeocoder(*open_store(args.store)))
    else:
        from app.data.ban_import import load_local_geocoder
        from app.db.session import make_engine

        geocoder, report["open"] = _step(lambda: load_local_geocoder(make_engine(args.database)))
    report["addresses"] = geocoder.address_count
    report["streets"] = geocoder.street_count
    _, report["completion_index"] = _step(lambda: completer(geocoder))
    _, report["reverse_index"] = _step(lambda: reverse_index(geocoder))
    chosen = sample(geocoder, args.sample, args.seed)
    report["typing"] = type_addresses(geocoder, [t for t, _ in chosen])
    report["reverse"] = reverse(geocoder, [a for _, a in chosen], args.seed)
    report["load_average_end"] = os.getloadavg()
    write_report(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
