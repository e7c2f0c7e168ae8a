"""Paris addresses given the postcode of a neighbouring arrondissement (issue 9).

A seeded sample of Paris BAN addresses, each geocoded three ways with the ``local``
geocoder: as published, with the postcode of an adjacent arrondissement instead of its own,
and degraded as in ``bench_geocoder``. Reported per set: share found at the right house
number (same BAN id), confidently wrong answers (a ``housenumber`` candidate scoring 0.8 or
more, over 50 m from the truth), and CPU milliseconds per address, caches warm.

    .venv/bin/python bench/bench_postcode_evidence.py [--sample 5000] [--seed 7]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.data.ban_import import import_ban_files, load_local_geocoder
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.geocoding.base import AddressQuery, MatchType
from bench.bench_geocoder import BAN_BONDY, BAN_PARIS, Row, degrade, read_rows

# Arrondissements of Paris that share a boundary (the Seine included).
ADJACENT = {
    1: (2, 3, 4, 6, 7, 8), 2: (1, 3, 9, 10), 3: (1, 2, 4, 10, 11), 4: (1, 3, 5, 11, 12),
    5: (4, 6, 13, 14), 6: (1, 5, 7, 14, 15), 7: (1, 6, 8, 15, 16), 8: (1, 7, 9, 16, 17),
    9: (2, 8, 10, 17, 18), 10: (2, 3, 9, 11, 18, 19), 11: (3, 4, 10, 12, 20),
    12: (4, 11, 13, 20), 13: (5, 12, 14), 14: (5, 6, 13, 15), 15: (6, 7, 14, 16),
    16: (7, 8, 15, 17), 17: (8, 9, 16, 18), 18: (9, 10, 17, 19), 19: (10, 18, 20),
    20: (11, 12, 19),
}  # fmt: skip


def _query(row: Row, postcode: str) -> AddressQuery:
    number = f"{row.numero} {row.rep}" if row.rep else row.numero
    return AddressQuery(q=f"{number} {row.street} {postcode} Paris")


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        import_ban_files(engine, [BAN_BONDY, BAN_PARIS])
        geocoder = load_local_geocoder(engine)
        engine.dispose()
    rnd = random.Random(args.seed)
    rows = rnd.sample(read_rows(BAN_PARIS), args.sample)
    sets = {
        "neighbouring postcode": [
            _query(r, f"750{rnd.choice(ADJACENT[int(r.citycode[-2:])]):02d}") for r in rows
        ],
        "clean": [_query(r, r.postcode) for r in rows],
        "degraded": [degrade(r, rnd) for r in rows],
    }
    for queries in sets.values():  # warm the caches: steady-state cost is what is measured
        for q in queries:
            geocoder.search(q, 2)
    for name, queries in sets.items():
        started = time.process_time()
        found = [geocoder.search(q, 2) for q in queries]
        cpu_ms = 1000 * (time.process_time() - started) / len(queries)
        right = wrong = 0
        for row, cands in zip(rows, found, strict=True):
            best = cands[0] if cands else None
            if best is not None and best.id == row.ban_id:
                right += 1
            elif best is not None and best.type is MatchType.HOUSENUMBER and best.score >= 0.8:
                kx = 111_320 * math.cos(math.radians(row.lat))
                far = math.hypot((best.lon - row.lon) * kx, (best.lat - row.lat) * 110_540)
                wrong += far > 50
        n = len(rows)
        print(
            f"{name:22} n={n} right number {100 * right / n:.2f} % "
            f"confidently wrong {100 * wrong / n:.2f} % ({wrong}) CPU {cpu_ms:.3f} ms/address"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
