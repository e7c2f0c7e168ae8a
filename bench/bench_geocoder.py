"""Benchmark of the offline (``local``) geocoder on real BAN addresses.

Every Bondy address and a seeded sample of Paris addresses are geocoded twice: (a) as
published in the BAN file, (b) degraded the way people type them (abbreviations, no
accents, upper or lower case, one typo, postcode missing or a city name instead), with a
seeded random mix. Reported: share found at the right house number, at the street only,
at the commune only, not found, wrong; addresses per second on one core.

    .venv/bin/python bench/bench_geocoder.py [--paris-sample 20000] [--seed 42]
        [--points-out bench/results/geocoder_points.npz] [--json bench/results/geocoder.json]

Hook for the QPV answer: ``--points-out`` writes, per address and variant, the true and the
found lon/lat (NaN when not found) so that the share of right QPV answers can be computed
with the spatial index; :func:`run` returns the same arrays for use from code.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import random
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.data.ban_import import import_ban_files, load_local_geocoder  # noqa: E402
from app.data.reader import read_qpv_file  # noqa: E402
from app.db.migrate import upgrade  # noqa: E402
from app.db.session import make_engine  # noqa: E402
from app.folding import fix_mojibake  # noqa: E402
from app.geocoding.base import AddressQuery, Candidate, MatchType  # noqa: E402
from app.geocoding.local import LocalGeocoder  # noqa: E402
from app.spatial.index import GeographyIndex  # noqa: E402
from app.spatial.records import DatasetInfo, QpvInfo, QpvSource  # noqa: E402

GEODATA = Path(os.environ.get("QPV_DATA_DIR", ROOT.parent / "shared" / "geodata"))
BAN_PARIS = GEODATA / "ban" / "adresses-75.csv.gz"
BAN_BONDY = GEODATA / "ban" / "adresses-93010-bondy.csv.gz"
QPV2024_GEOJSON = GEODATA / "qpv2024" / "qpv2024_wgs84_rounded4.geojson"

# Abbreviations people type, the reverse of what normalize.py expands.
TYPE_ABBREV = {
    "rue": ["r", "r.", "R"],
    "avenue": ["av", "av.", "ave"],
    "boulevard": ["bd", "bld", "boul"],
    "place": ["pl", "pl."],
    "allée": ["all", "allee"],
    "allee": ["all"],
    "impasse": ["imp"],
    "passage": ["pass", "pas"],
    "square": ["sq"],
    "quai": ["qu", "quai"],
    "chemin": ["ch", "chem"],
    "route": ["rte"],
    "cours": ["crs"],
    "faubourg": ["fg", "fbg"],
    "résidence": ["res"],
    "villa": ["vla"],
}
WORD_ABBREV = {
    "saint": "st",
    "sainte": "ste",
    "général": "gal",
    "maréchal": "mal",
    "président": "pdt",
    "docteur": "dr",
    "professeur": "pr",
    "commandant": "cdt",
    "faubourg": "fg",
}
REP_FORMS = {
    "bis": ["bis", "b", "B"],
    "b": ["bis", "b", "B"],
    "ter": ["ter", "t", "T"],
    "t": ["ter", "t", "T"],
    "quater": ["quater", "q"],
    "q": ["quater", "q"],
}


@dataclass(frozen=True, slots=True)
class Row:
    """One published BAN address (the truth)."""

    ban_id: str
    numero: str
    rep: str
    street: str
    postcode: str
    citycode: str
    city: str
    lon: float
    lat: float


def read_rows(path: Path) -> list[Row]:
    """Read a BAN CSV file as published."""
    with gzip.open(path, "rb") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"), delimiter=";")
        return [
            Row(
                r["id"],
                r["numero"],
                r["rep"],
                r["nom_voie"],
                r["code_postal"],
                r["code_insee"],
                r["nom_commune"],
                float(r["lon"]),
                float(r["lat"]),
            )
            for r in reader
        ]


def clean_query(row: Row) -> AddressQuery:
    """The address as published: number, index, street, postcode, commune."""
    number = f"{row.numero} {row.rep}" if row.rep else row.numero
    return AddressQuery(q=f"{number} {row.street} {row.postcode} {row.city}")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _typo(word: str, rnd: random.Random) -> str:
    # One edit anywhere but on the first letter, which people rarely get wrong.
    i = rnd.randrange(1, len(word))
    op = rnd.choice(("delete", "insert", "substitute", "transpose"))
    letters = "abcdefghijklmnopqrstuvwxyz"
    if op == "delete":
        return word[:i] + word[i + 1 :]
    if op == "insert":
        return word[:i] + rnd.choice(letters) + word[i:]
    if op == "substitute":
        return word[:i] + rnd.choice(letters.replace(word[i].lower(), "")) + word[i + 1 :]
    if i == len(word) - 1:
        i -= 1
    if i < 1:
        return word[:i] + rnd.choice(letters) + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def degrade(row: Row, rnd: random.Random) -> AddressQuery:
    """The address as people type it: a seeded random mix of the usual damage."""
    words = fix_mojibake(row.street).split()
    if words and rnd.random() < 0.5:
        forms = TYPE_ABBREV.get(words[0].lower())
        if forms:
            words[0] = rnd.choice(forms)
    if rnd.random() < 0.5:
        words = [WORD_ABBREV.get(w.lower(), w) if i else w for i, w in enumerate(words)]
    street = " ".join(words)
    if rnd.random() < 0.5:
        # One typo in a word of the name long enough to carry it (not the type word).
        long_words = [i for i, w in enumerate(words) if i > 0 and len(w) >= 4]
        if long_words:
            i = rnd.choice(long_words)
            words[i] = _typo(words[i], rnd)
            street = " ".join(words)
    number = row.numero
    if row.rep:
        form = rnd.choice(REP_FORMS.get(row.rep.lower(), [row.rep]))
        number += rnd.choice(("", " ")) + form
    city = fix_mojibake(row.city)
    if city.startswith("Paris "):
        arr = int(row.citycode[-2:])
        city = rnd.choice(["Paris", f"Paris {arr}e", f"PARIS {arr}", "Paris"])
    where = rnd.random()
    if where < 0.4:
        place = f"{row.postcode} {city}"
    elif where < 0.65:
        place = row.postcode
    else:
        place = city
    sep = rnd.choice((" ", ", "))
    q = f"{number} {street}{sep}{place}"
    if rnd.random() < 0.5:
        q = _strip_accents(q)
    case = rnd.random()
    if case < 0.3:
        q = q.upper()
    elif case < 0.6:
        q = q.lower()
    return AddressQuery(q=q)


@dataclass
class Outcome:
    """Per-address results of one run, as arrays."""

    found_lon: NDArray[np.float64]
    found_lat: NDArray[np.float64]
    right_number: NDArray[np.bool_]
    kind: list[str]  # housenumber-right, housenumber-wrong, street, municipality, not-found
    seconds: float


def evaluate(geocoder: LocalGeocoder, rows: list[Row], queries: list[AddressQuery]) -> Outcome:
    """Geocode every query (one core, timed) and compare with the published rows."""
    started = time.perf_counter()
    results: list[list[Candidate]] = [geocoder.search(q, 1) for q in queries]
    seconds = time.perf_counter() - started
    n = len(rows)
    found_lon = np.full(n, np.nan)
    found_lat = np.full(n, np.nan)
    right = np.zeros(n, dtype=bool)
    kind: list[str] = []
    for i, (row, cands) in enumerate(zip(rows, results, strict=True)):
        if not cands:
            kind.append("not-found")
            continue
        best = cands[0]
        found_lon[i], found_lat[i] = best.lon, best.lat
        if best.type == MatchType.HOUSENUMBER:
            ok = best.id == row.ban_id
            right[i] = ok
            kind.append("housenumber-right" if ok else "housenumber-wrong")
        else:
            kind.append(str(best.type))
    return Outcome(found_lon, found_lat, right, kind, seconds)


def run(
    paris_sample: int = 20_000, seed: int = 42, database_url: str | None = None
) -> dict[str, Any]:
    """Import, load, geocode; return the figures and the per-address point arrays."""
    tmp = tempfile.TemporaryDirectory()
    url = database_url or f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    import_ban_files(engine, [BAN_BONDY, BAN_PARIS])
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    geocoder = load_local_geocoder(engine)
    load_s = time.perf_counter() - t0
    engine.dispose()

    rnd = random.Random(seed)
    bondy = read_rows(BAN_BONDY)
    paris_all = read_rows(BAN_PARIS)
    paris = rnd.sample(paris_all, min(paris_sample, len(paris_all)))
    figures: dict[str, Any] = {
        "import_s": round(import_s, 2),
        "load_s": round(load_s, 2),
        "streets": geocoder.street_count,
        "addresses": geocoder.address_count,
        "seed": seed,
        "runs": {},
    }
    arrays: dict[str, NDArray[Any]] = {}
    for set_name, rows in (("bondy", bondy), ("paris", paris)):
        variants = {
            "clean": [clean_query(r) for r in rows],
            "degraded": [degrade(r, rnd) for r in rows],
        }
        for variant, queries in variants.items():
            out = evaluate(geocoder, rows, queries)
            counts = {k: out.kind.count(k) for k in sorted(set(out.kind))}
            figures["runs"][f"{set_name}/{variant}"] = {
                "n": len(rows),
                "right_number_pct": round(100.0 * float(out.right_number.mean()), 2),
                "addresses_per_s": round(len(rows) / out.seconds),
                "outcomes": counts,
            }
            prefix = f"{set_name}_{variant}_"
            arrays[prefix + "true_lon"] = np.array([r.lon for r in rows])
            arrays[prefix + "true_lat"] = np.array([r.lat for r in rows])
            arrays[prefix + "found_lon"] = out.found_lon
            arrays[prefix + "found_lat"] = out.found_lat
            arrays[prefix + "right_number"] = out.right_number
    for variant in ("clean", "degraded"):
        runs = [figures["runs"][f"{s}/{variant}"] for s in ("bondy", "paris")]
        n = sum(r["n"] for r in runs)
        right = sum(r["n"] * r["right_number_pct"] / 100 for r in runs)
        secs = sum(r["n"] / r["addresses_per_s"] for r in runs)
        figures[f"{variant}_right_number_pct"] = round(100 * right / n, 2)
        figures[f"{variant}_addresses_per_s"] = round(n / secs)
    figures["right_qpv_pct"] = qpv_agreement(arrays)
    figures["arrays"] = arrays
    tmp.cleanup()
    return figures


def qpv_agreement(arrays: dict[str, NDArray[Any]]) -> dict[str, float]:
    """Share of addresses whose found point gets the same QPV answer as the true one (2024).

    Same answer = the same QPV code, or outside every QPV at both points; an address not
    found counts as wrong.
    """
    qpv = read_qpv_file(QPV2024_GEOJSON)
    index = GeographyIndex.build(
        DatasetInfo(
            0, qpv.geography, qpv.source_name, qpv.sha256, len(qpv.rows), 0, datetime.now(UTC)
        ),
        [
            QpvSource(QpvInfo(r.code, r.name, r.departement, r.territory, (), ()), r.geom)
            for r in qpv.rows
        ],
    )
    shares = {}
    for prefix in sorted({k.rsplit("_", 2)[0] for k in arrays if k.endswith("_true_lon")}):
        truth = index.tag(arrays[f"{prefix}_true_lon"], arrays[f"{prefix}_true_lat"])
        found_lon, found_lat = arrays[f"{prefix}_found_lon"], arrays[f"{prefix}_found_lat"]
        found = index.tag(np.nan_to_num(found_lon, nan=0.0), np.nan_to_num(found_lat, nan=0.0))
        right = (truth == found) & np.isfinite(found_lon)
        shares[prefix.replace("_", "/")] = round(100.0 * float(right.mean()), 2)
    return shares


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paris-sample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--points-out", type=Path, help="write true/found lon/lat arrays (.npz)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    figures = run(args.paris_sample, args.seed, args.database_url)
    arrays = figures.pop("arrays")
    print(json.dumps(figures, indent=2))
    if args.points_out:
        args.points_out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.points_out, **arrays)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
