"""A synthetic national BAN: seeded, in the official CSV format, one file per département.

Every current commune of the administrative divisions (``cog/``; Paris, Lyon and
Marseille by municipal arrondissement) gets addresses in proportion to its population
(at least a few), on streets whose names are drawn from the shared BAN extracts (their
type words and bodies recombined, so that big cities have enough distinct names), with
the commune's real postcodes and names. A street has a skewed number of addresses
(most a handful, some hundreds), numbered 1, 2, 3... with gaps and a few bis/ter. The
communes have no coordinates in the divisions: each is placed at a seeded point near its
département's seeded centre, its streets around it (QPV answers on this file mean nothing;
sizes, names and numbers are what the national bench needs).

Rows are generated commune by commune and streamed to gzip: nothing holds the whole file.

    .venv/bin/python bench/make_national_ban.py OUT_DIR [--rows 26000000] [--seed 42]
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
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from pyproj import Transformer

ROOT = Path(__file__).resolve().parents[1]
GEODATA = Path(os.environ.get("QPV_DATA_DIR", ROOT.parent / "shared" / "geodata"))
COG = GEODATA / "cog" / "etalab-decoupage-administratif-6.0.0.tgz"
EXTRACTS = (GEODATA / "ban" / "adresses-75.csv.gz", GEODATA / "ban" / "adresses-93010-bondy.csv.gz")
HEADER = (
    "id;id_fantoir;numero;rep;nom_voie;code_postal;code_insee;nom_commune;"
    "code_insee_ancienne_commune;nom_ancienne_commune;x;y;lon;lat;type_position;alias;nom_ld;"
    "libelle_acheminement;nom_afnor;source_position;source_nom_voie;certification_commune;"
    "cad_parcelles"
)
MIN_PER_COMMUNE = 8
MEAN_PER_STREET = 11.0  # the national BAN: about 26 M addresses on 2.3 M streets
REPS = ("bis", "ter", "a", "b")
_TO_L93 = Transformer.from_crs(4326, 2154, always_xy=True)
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def communes() -> list[dict[str, Any]]:
    """Current communes with postcodes, arrondissements instead of Paris, Lyon, Marseille."""
    with tarfile.open(COG) as tgz:
        member = tgz.extractfile("package/data/communes.json")
        assert member is not None
        items = json.load(member)
    split = {i["commune"] for i in items if i["type"] == "arrondissement-municipal"}
    kept = [
        i
        for i in items
        if i["type"] in ("commune-actuelle", "arrondissement-municipal")
        and i["code"] not in split
        and i.get("codesPostaux")
    ]
    return sorted(kept, key=lambda i: (i["departement"], i["code"]))


def street_names() -> tuple[list[str], list[str]]:
    """Street type words and name bodies of the shared extracts."""
    types: set[str] = set()
    bodies: set[str] = set()
    for path in EXTRACTS:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter=";")
            col = next(reader).index("nom_voie")
            for row in reader:
                head, _, rest = row[col].partition(" ")
                if rest and head[:1].isupper() and len(head) > 2:
                    types.add(head)
                    bodies.add(rest)
    return sorted(types), sorted(bodies)


def allocate(populations: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Addresses per commune: proportional to population, at least MIN_PER_COMMUNE, summing up."""
    if total < MIN_PER_COMMUNE * len(populations):
        raise SystemExit(f"--rows: at least {MIN_PER_COMMUNE * len(populations)} for every commune")
    weights = populations.astype(np.float64) + 50.0
    raw = weights / weights.sum() * (total - MIN_PER_COMMUNE * len(weights))
    counts = np.floor(raw).astype(np.int64)
    rest = total - MIN_PER_COMMUNE * len(weights) - int(counts.sum())
    counts[np.argsort(raw - counts)[::-1][:rest]] += 1
    return counts + MIN_PER_COMMUNE


def street_sizes(n: int, rng: np.random.Generator) -> list[int]:
    """A skewed split of n addresses into streets (mean about MEAN_PER_STREET)."""
    n_streets = max(1, round(n / MEAN_PER_STREET))
    weights = rng.lognormal(0.0, 1.1, n_streets)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * n)).astype(np.int64)
    sizes[np.argmax(sizes)] += n - int(sizes.sum())
    if sizes.min() < 1:  # rounding overshot: trim the largest
        sizes = np.maximum(sizes, 1)
        sizes[np.argmax(sizes)] -= int(sizes.sum()) - n
    return [int(s) for s in sizes]


def numbers(size: int, rng: random.Random) -> Iterator[tuple[int, str]]:
    """House numbers of one street: 1, 2, 3... with gaps, and a few bis/ter."""
    n = 0
    made = 0
    while made < size:
        n += 1 if rng.random() < 0.8 else rng.randint(2, 6)
        yield n, ""
        made += 1
        if made < size and rng.random() < 0.04:
            yield n, rng.choice(REPS)
            made += 1


def commune_rows(
    commune: dict[str, Any],
    count: int,
    centre: tuple[float, float],
    names: tuple[list[str], list[str]],
    rng: random.Random,
    nrng: np.random.Generator,
) -> Iterator[str]:
    """The CSV lines of one commune's addresses."""
    code, city = commune["code"], commune["nom"]
    postcodes = commune["codesPostaux"]
    types, bodies = names
    lon0 = centre[0] + rng.uniform(-0.6, 0.6)
    lat0 = centre[1] + rng.uniform(-0.4, 0.4)
    used: set[str] = set()
    for size in street_sizes(count, nrng):
        name = f"{rng.choice(types)} {rng.choice(bodies)}"
        while name in used:
            name = f"{rng.choice(types)} {rng.choice(bodies)}"
        used.add(name)
        sid = "".join(rng.choice(_ALNUM) for _ in range(6))
        postcode = rng.choice(postcodes)
        slon, slat = lon0 + rng.gauss(0, 0.01), lat0 + rng.gauss(0, 0.007)
        dlon, dlat = rng.gauss(0, 0.00005), rng.gauss(0, 0.00005)
        nums = list(numbers(size, rng))
        lons = np.round(slon + dlon * np.arange(len(nums)), 6)
        lats = np.round(slat + dlat * np.arange(len(nums)), 6)
        xs, ys = _TO_L93.transform(lons, lats)
        afnor = name.upper()
        for (num, rep), lon, lat, x, y in zip(
            nums, lons.tolist(), lats.tolist(), xs.tolist(), ys.tolist(), strict=True
        ):
            ident = f"{code}_{sid}_{num:05d}" + (f"_{rep}" if rep else "")
            yield (
                f"{ident};;{num};{rep};{name};{postcode};{code};{city};;;{x:.2f};{y:.2f};{lon};{lat};"
                f"entrée;;;{city.upper()};{afnor};commune;commune;1;\n"
            )


def generate(out_dir: Path, total: int, seed: int) -> dict[str, Any]:
    """Write ``adresses-DD.csv.gz`` files under out_dir; return a summary."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    items = communes()
    names = street_names()
    counts = allocate(np.array([i.get("population") or 0 for i in items]), total, nrng)
    out_dir.mkdir(parents=True, exist_ok=True)
    centres: dict[str, tuple[float, float]] = {}
    files: dict[str, int] = {}
    current: str | None = None
    fh: TextIO | None = None
    for commune, count in zip(items, counts.tolist(), strict=True):
        dep = commune["departement"]
        if dep != current:
            if fh is not None:
                fh.close()
            current = dep
            raw = gzip.open(out_dir / f"adresses-{dep}.csv.gz", "wb", compresslevel=1)  # noqa: SIM115
            fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            fh.write(HEADER + "\n")
            files[dep] = 0
        centre = centres.setdefault(dep, (rng.uniform(-1.5, 7.0), rng.uniform(43.2, 50.5)))
        assert fh is not None
        fh.writelines(commune_rows(commune, count, centre, names, rng, nrng))
        files[dep] += count
    if fh is not None:
        fh.close()
    return {"rows": int(counts.sum()), "communes": len(items), "files": len(files), "seed": seed}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--rows", type=int, default=26_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    started = time.process_time()
    summary = generate(args.out_dir, args.rows, args.seed)
    summary["cpu_s"] = round(time.process_time() - started, 1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
