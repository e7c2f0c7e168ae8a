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
import contextlib
import csv
import gzip
import io
import json
import math
import os
import random
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
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
from app.settings import Settings  # noqa: E402
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
    index = _qpv_index()
    shares = {}
    for prefix in sorted({k.rsplit("_", 2)[0] for k in arrays if k.endswith("_true_lon")}):
        truth = index.tag(arrays[f"{prefix}_true_lon"], arrays[f"{prefix}_true_lat"])
        found_lon, found_lat = arrays[f"{prefix}_found_lon"], arrays[f"{prefix}_found_lat"]
        found = index.tag(np.nan_to_num(found_lon, nan=0.0), np.nan_to_num(found_lat, nan=0.0))
        right = (truth == found) & np.isfinite(found_lon)
        shares[prefix.replace("_", "/")] = round(100.0 * float(right.mean()), 2)
    return shares


# ---------------------------------------------------------------- named accuracy sets (issue 9)

CONFIDENT = 0.8  # a housenumber answer at or above this score is taken at its word
WRONG_M = 50.0  # ... and is confidently wrong when farther than this from the truth
SET_NAMES = (
    "clean",
    "degraded",
    "typo+postcode",
    "extra lines",
    "missing numbers",
    "bis/ter",
    "wrong arrondissement postcode",
    "no commune",
)
_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy")
_RESIDENCES = ("les Lilas", "du Parc", "Les Tilleuls", "Le Clos Fleuri", "des Peupliers")


def _number(row: Row, rnd: random.Random | None = None) -> str:
    if not row.rep:
        return row.numero
    form = rnd.choice(REP_FORMS.get(row.rep.lower(), [row.rep])) if rnd else row.rep
    return f"{row.numero}{rnd.choice(('', ' ')) if rnd else ' '}{form}"


def _street_with_typo(row: Row, rnd: random.Random) -> str | None:
    words = fix_mojibake(row.street).split()
    long_words = [i for i, w in enumerate(words) if i > 0 and len(w) >= 5]
    if not long_words:
        return None
    i = rnd.choice(long_words)
    words[i] = _typo(words[i], rnd)
    return " ".join(words).lower()


def _with_lines(row: Row, rnd: random.Random) -> str:
    """The clean address wrapped in the lines people add (one template, seeded)."""
    street = f"{_number(row)} {fix_mojibake(row.street)}"
    place = f"{row.postcode} {fix_mojibake(row.city)}"
    letter, n, name = rnd.choice("ABCDEF"), rnd.randint(1, 120), rnd.choice(_NAMES)
    arr = int(row.citycode[-2:]) if row.citycode.startswith("751") else 0
    cedex = f"75{rnd.randint(700, 999)} PARIS CEDEX {arr:02d}" if arr else f"{place} CEDEX"
    templates = [
        f"Bat {letter} Appt {n} {street} {place}",
        f"Résidence {rnd.choice(_RESIDENCES)} {street} {place}",
        f"{street} Appt {n} {place}",
        f"chez {name} {street} {place}",
        f"{street} BP {n} {place}",
        f"M. {name}\nAppartement {n}\nBâtiment {letter}\n{street}\n{place}\nFRANCE",
        f"{street} {cedex}",
        f"{rnd.randint(1, 9)}e étage {street} {place}",
        f"Esc {letter} {street}, {place}",
        f"Mme {name}\n{street}\nCS {rnd.randint(10000, 99999)}\n{cedex}",
    ]
    return rnd.choice(templates)


def _neighbour_postcodes(rows: list[Row]) -> dict[str, list[str]]:
    """Paris arrondissement postcode -> the postcodes of its three nearest arrondissements."""
    sums: dict[str, list[float]] = {}
    for r in rows:
        if r.citycode.startswith("751"):
            acc = sums.setdefault(r.citycode, [0.0, 0.0, 0.0])
            acc[0] += r.lon
            acc[1] += r.lat
            acc[2] += 1
    centre = {c: (a[0] / a[2], a[1] / a[2]) for c, a in sums.items()}
    out = {}
    for code, (x, y) in centre.items():
        others = sorted((c for c in centre if c != code), key=lambda c: _sq(centre[c], x, y))
        out[code] = [f"750{c[-2:]}" for c in others[:3]]
    return out


def _sq(p: tuple[float, float], x: float, y: float) -> float:
    return (p[0] - x) ** 2 + ((p[1] - y) * 1.5) ** 2


def named_sets(
    rows: list[Row], held: list[Row], size: int, rnd: random.Random
) -> dict[str, list[tuple[Row, str]]]:
    """Every named set as (truth, query text) pairs, seeded."""
    pool = rnd.sample(rows, min(len(rows), size * 4))
    paris = [r for r in pool if r.citycode.startswith("751")]
    with_rep = [r for r in rows if r.rep]
    neighbours = _neighbour_postcodes(rows)
    sets: dict[str, list[tuple[Row, str]]] = {
        "clean": [(r, clean_query(r).q or "") for r in pool[:size]],
        "degraded": [(r, degrade(r, rnd).q or "") for r in pool[size : 2 * size]],
        "extra lines": [(r, _with_lines(r, rnd)) for r in pool[2 * size : 3 * size]],
        "missing numbers": [(r, clean_query(r).q or "") for r in held[:size]],
        "bis/ter": [
            (r, f"{_number(r, rnd)} {fix_mojibake(r.street)} {r.postcode} {r.city}")
            for r in rnd.sample(with_rep, min(size, len(with_rep)))
        ],
        "wrong arrondissement postcode": [
            (r, f"{_number(r)} {fix_mojibake(r.street)} {rnd.choice(neighbours[r.citycode])} Paris")
            for r in paris[:size]
        ],
        "no commune": [(r, f"{_number(r)} {fix_mojibake(r.street)}") for r in pool[3 * size :]],
    }
    typos = []
    for r in pool:
        street = _street_with_typo(r, rnd)
        if street is not None:
            typos.append((r, f"{_number(r)} {street} {r.postcode} {fix_mojibake(r.city).lower()}"))
        if len(typos) == size:
            break
    sets["typo+postcode"] = typos
    sets["no commune"] = sets["no commune"][:size]
    return {name: sets[name] for name in SET_NAMES}


def held_out(rows: list[Row], n: int, rnd: random.Random) -> list[Row]:
    """Addresses to remove from the tables: numbers with a same-parity neighbour on each side."""
    by_street: dict[str, list[Row]] = {}
    for r in rows:
        by_street.setdefault(
            r.ban_id.rsplit("_", 2)[0] if r.rep else r.ban_id.rsplit("_", 1)[0], []
        ).append(r)
    candidates = []
    for street_rows in by_street.values():
        numbers = sorted(int(r.numero) for r in street_rows if r.numero.isdigit())
        for r in street_rows:
            if r.rep or not r.numero.isdigit():
                continue
            k = int(r.numero)
            same = [m for m in numbers if m % 2 == k % 2 and m != k]
            if any(m < k for m in same) and any(m > k for m in same):
                candidates.append(r)
    return rnd.sample(candidates, min(n, len(candidates)))


def _write_without(src: Path, dst: Path, drop: set[str]) -> None:
    """A copy of a BAN extract without the addresses whose id is in ``drop``."""
    with (
        gzip.open(src, "rt", encoding="utf-8", newline="") as fin,
        gzip.open(dst, "wt", encoding="utf-8", newline="") as fout,
    ):
        header = fin.readline()
        fout.write(header)
        for line in fin:
            if line.split(";", 1)[0] not in drop:
                fout.write(line)


@dataclass(frozen=True, slots=True)
class Found:
    """One engine's best answer to one query (None fields when nothing was found)."""

    id: str | None
    type: str | None
    score: float
    lon: float
    lat: float
    # The first other candidate the service's ambiguity rule weighs (score within the
    # margin, farther than the distance): the answer is `ambiguous` if its QPV differs.
    rival: tuple[float, float] | None = None


NOTHING = Found(None, None, 0.0, math.nan, math.nan)
_SETTINGS = Settings()


def _found(best: Candidate, others: list[Candidate]) -> Found:
    rival = None
    for other in others:
        if best.score - other.score > _SETTINGS.ambiguity_score_margin:
            break
        metres = float(_metres(*map(np.array, (best.lon, best.lat, other.lon, other.lat))))
        if metres > _SETTINGS.ambiguity_distance_m:
            rival = (other.lon, other.lat)
            break
    return Found(best.id, str(best.type), best.score, best.lon, best.lat, rival)


def _local_answers(geocoder: LocalGeocoder, queries: list[str]) -> list[Found]:
    out = []
    for q in queries:
        cands = geocoder.search(AddressQuery(q=q), 5)
        out.append(_found(cands[0], cands[1:]) if cands else NOTHING)
    return out


def _addok_answers(url: str, queries: list[str]) -> list[Found]:
    def one(client: httpx.Client, q: str) -> Found:
        text = " ".join(q.split())[:200]
        for _ in range(5):  # a loaded machine: retry what the server could not answer
            resp = client.get(f"{url}/search/", params={"q": text, "limit": 5})
            if resp.status_code == 200:
                break
            failures.append(resp.status_code)
            time.sleep(0.2)
        features = resp.json().get("features", []) if resp.status_code == 200 else []
        cands = [_candidate(f) for f in features]
        return _found(cands[0], cands[1:]) if cands else NOTHING

    failures: list[int] = []
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda q: one(client, q), queries))
    if failures:
        print(f"addok: {len(failures)} failed requests {sorted(set(failures))}", file=sys.stderr)
    return found


def _candidate(feature: dict[str, Any]) -> Candidate:
    lon, lat = feature["geometry"]["coordinates"]
    p = feature["properties"]
    return Candidate(
        p.get("label", ""), float(p.get("score", 0)), MatchType(p["type"]), lon, lat, id=p.get("id")
    )


def score_set(
    truth: list[Row], found: list[Found], index: GeographyIndex, with_number: bool
) -> dict[str, Any]:
    """Right house number, right QPV answer, confidently wrong: shares in % of the set."""
    n = len(truth)
    t_lon = np.array([r.lon for r in truth])
    t_lat = np.array([r.lat for r in truth])
    f_lon = np.array([f.lon for f in found])
    f_lat = np.array([f.lat for f in found])
    found_qpv = index.tag(np.nan_to_num(f_lon), np.nan_to_num(f_lat))
    r_lon = np.array([f.rival[0] if f.rival else 0.0 for f in found])
    r_lat = np.array([f.rival[1] if f.rival else 0.0 for f in found])
    has_rival = np.array([f.rival is not None for f in found])
    ambiguous = has_rival & (index.tag(r_lon, r_lat) != found_qpv)
    # An ambiguous answer names no QPV: neither right nor confidently wrong.
    right_qpv = (index.tag(t_lon, t_lat) == found_qpv) & np.isfinite(f_lon) & ~ambiguous
    metres = _metres(t_lon, t_lat, f_lon, f_lat)
    confident = np.array([f.type == "housenumber" and f.score >= CONFIDENT for f in found])
    confident &= ~ambiguous
    wrong = confident & ~(metres <= WRONG_M)
    right_number = np.array([f.id == r.ban_id for f, r in zip(found, truth, strict=True)])
    return {
        "n": n,
        "right_number_pct": round(100 * float(right_number.mean()), 2) if with_number else None,
        "right_qpv_pct": round(100 * float(right_qpv.mean()), 2),
        "confidently_wrong_pct": round(100 * float(wrong.mean()), 2),
        "not_found_pct": round(100 * float(np.isnan(f_lon).mean()), 2),
        "ambiguous_pct": round(100 * float(ambiguous.mean()), 2),
    }


def _metres(
    lon1: NDArray[Any], lat1: NDArray[Any], lon2: NDArray[Any], lat2: NDArray[Any]
) -> NDArray[Any]:
    k = math.pi / 180
    x = (lon2 - lon1) * k * np.cos((lat1 + lat2) * k / 2)
    y = (lat2 - lat1) * k
    metres: NDArray[Any] = 6_371_000 * np.sqrt(x * x + y * y)
    return metres


def _qpv_index() -> GeographyIndex:
    qpv = read_qpv_file(QPV2024_GEOJSON)
    return GeographyIndex.build(
        DatasetInfo(
            0, qpv.geography, qpv.source_name, qpv.sha256, len(qpv.rows), 0, datetime.now(UTC)
        ),
        [
            QpvSource(QpvInfo(r.code, r.name, r.departement, r.territory, (), ()), r.geom)
            for r in qpv.rows
        ],
    )


def run_sets(size: int = 1000, seed: int = 42, addok: bool = False) -> dict[str, Any]:
    """The named sets through the local geocoder and, with ``addok``, a real addok built
    from the same extracts (held-out addresses removed from both)."""
    rnd = random.Random(seed)
    rows = read_rows(BAN_BONDY) + read_rows(BAN_PARIS)
    held = held_out(rows, size, rnd)
    drop = {r.ban_id for r in held}
    kept = [r for r in rows if r.ban_id not in drop]
    sets = named_sets(kept, held, size, rnd)
    index = _qpv_index()
    figures: dict[str, Any] = {"seed": seed, "size": size, "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(tmp) / "bondy.csv.gz", Path(tmp) / "paris.csv.gz"]
        for src, dst in zip((BAN_BONDY, BAN_PARIS), files, strict=True):
            _write_without(src, dst, drop)
        url = f"sqlite:///{Path(tmp) / 'sets.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        import_ban_files(engine, files)
        geocoder = load_local_geocoder(engine)
        engine.dispose()
        engines: dict[str, Any] = {"local": lambda qs: _local_answers(geocoder, qs)}
        with contextlib.ExitStack() as stack:
            if addok:
                addok_url = stack.enter_context(_addok_server(files, Path(tmp)))
                engines["addok"] = lambda qs: _addok_answers(addok_url, qs)
            for name, pairs in sets.items():
                truth, queries = [p[0] for p in pairs], [p[1] for p in pairs]
                row = figures["sets"].setdefault(name, {})
                for engine_name, answer in engines.items():
                    started = time.process_time()
                    found = answer(queries)
                    cpu = time.process_time() - started
                    scored = score_set(truth, found, index, name != "missing numbers")
                    scored["cpu_s"] = round(cpu, 2)
                    row[engine_name] = scored
    return figures


@contextlib.contextmanager
def _addok_server(files: list[Path], workdir: Path) -> Iterator[str]:
    """A real addok indexing ``files`` (as the test suite builds it), served on loopback."""
    from tests.geocoding.addok_server import AddokServer, check_redis, claim_redis_dbs

    host, _, port = os.environ.get("QPV_TEST_REDIS", "127.0.0.1:6379").rpartition(":")
    check_redis(host, int(port))
    merged = workdir / "both.csv.gz"
    with gzip.open(merged, "wt", encoding="utf-8", newline="") as out:
        for i, f in enumerate(files):
            with gzip.open(f, "rt", encoding="utf-8", newline="") as fin:
                header = fin.readline()
                if i == 0:
                    out.write(header)
                out.writelines(fin)
    with claim_redis_dbs(host, int(port)) as target:
        server = AddokServer(merged, workdir / "addok", target)
        try:
            server.build()
            yield server.start()
        finally:
            server.stop()
            target.flush()


def print_sets(figures: dict[str, Any]) -> None:
    """The sets as a Markdown table, engines side by side."""
    engines = [e for e in ("local", "addok") if any(e in r for r in figures["sets"].values())]
    columns = ("right number %", "right QPV %", "confidently wrong %", "ambiguous %")
    print("| set | n |" + "".join(f" {e}: {c} |" for e in engines for c in columns))
    print("|---|---:|" + "---:|" * (len(columns) * len(engines)))
    for name, row in figures["sets"].items():
        cells = [name, str(next(iter(row.values()))["n"])]
        for e in engines:
            r = row[e]
            number = "-" if r["right_number_pct"] is None else f"{r['right_number_pct']:.2f}"
            cells += [number, f"{r['right_qpv_pct']:.2f}", f"{r['confidently_wrong_pct']:.2f}"]
            cells.append(f"{r['ambiguous_pct']:.2f}")
        print("| " + " | ".join(cells) + " |")


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paris-sample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--points-out", type=Path, help="write true/found lon/lat arrays (.npz)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    parser.add_argument(
        "--sets", type=int, metavar="N", help="run the named accuracy sets, N addresses each"
    )
    parser.add_argument("--addok", action="store_true", help="with --sets: addok side by side")
    args = parser.parse_args()
    if args.sets:
        figures = run_sets(args.sets, args.seed, args.addok)
        print(json.dumps(figures, indent=2))
        print_sets(figures)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(figures, indent=2))
        return 0
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
