"""A realistic synthetic admissions file, with a known QPV gap, drawn from BAN extracts.

Addresses are real BAN address points (Paris, Bondy...); whether each is in a QPV is decided
by tagging its BAN coordinates with the service's index, so that a fair share of the rows
live in QPV. Outcomes are drawn with the gap below put in, and nothing else tied to QPV:
the admission probability depends on sex and on QPV only, so the gap per sex that an
analysis finds estimates exactly ``GAP_POINTS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from app.errors import InvalidInput
from app.geocoding.ban_file import REQUIRED_COLUMNS
from app.spatial.geography import Geography
from app.spatial.index import QpvIndex
from app.spatial.tagging import tag_points

# Admission probability hors QPV, and the gap put in for QPV residents (points), by sex.
BASE_RATE = {"F": 0.72, "M": 0.66}
GAP_POINTS = {"F": -12.0, "M": -6.0}
QPV_SHARE = 0.35  # share of rows drawn from addresses inside a QPV
UNPLACEABLE_SHARE = 0.01  # rows whose address the geocoder cannot place (lieu-dit inconnu)
PCS = ("très favorisée", "favorisée", "moyenne", "défavorisée")
PCS_QPV = (0.08, 0.10, 0.27, 0.55)
PCS_HORS = (0.35, 0.15, 0.28, 0.22)
VOEUX = ("Licence", "BUT", "BTS", "CPGE", "IFSI", "Double licence")
VOEUX_P = (0.42, 0.18, 0.22, 0.08, 0.06, 0.04)
ACADEMIE_OF_DEPT = {"75": "Paris", "93": "Créteil", "94": "Créteil", "77": "Créteil"}
_BAN_COLUMNS = [c for c in REQUIRED_COLUMNS if c != "id"]


@dataclass(frozen=True, slots=True)
class Example:
    """The raw file's rows, and the tagging of their BAN coordinates (the truth)."""

    rows: pd.DataFrame
    truth: pd.DataFrame  # qpv_status, qpv_code, qpv_geography from the BAN coordinates
    dataset_version: str
    coordinates: pd.DataFrame  # lon, lat of each row's BAN address point


def read_ban(paths: Sequence[Path]) -> pd.DataFrame:
    """BAN address points (gzipped CSV or not) with the columns the example needs."""
    if not paths:
        raise InvalidInput("no BAN file given: the example draws its addresses from BAN extracts")
    frames = [
        pd.read_csv(
            p,
            sep=";",
            usecols=_BAN_COLUMNS,
            dtype={"code_postal": str, "code_insee": str, "rep": str},
        )
        for p in paths
    ]
    ban = pd.concat(frames, ignore_index=True).dropna(subset=["lon", "lat", "nom_voie"])
    return ban.reset_index(drop=True)


def admissions(
    ban: pd.DataFrame,
    index: QpvIndex,
    rows: int = 20_000,
    seed: int = 42,
    geography: Geography = Geography.QPV2024,
    tolerance_m: float = 15.0,
) -> Example:
    """Draw ``rows`` applicants: addresses, sex, PCS, académie, wish, and the admission."""
    if rows < 1:
        raise InvalidInput(f"rows must be at least 1, not {rows}")
    rng = np.random.default_rng(seed)
    tagged = tag_points(index, ban["lon"], ban["lat"], geography=geography, tolerance_m=tolerance_m)
    inside = np.array([c is not None for c in tagged.code])
    pick = _draw_addresses(rng, inside, rows)
    address = ban.iloc[pick].reset_index(drop=True)
    is_qpv = inside[pick]
    sexe = rng.choice(["F", "M"], size=rows)
    pcs = np.where(
        is_qpv, rng.choice(PCS, size=rows, p=PCS_QPV), rng.choice(PCS, size=rows, p=PCS_HORS)
    )
    p = (
        np.array([BASE_RATE[s] for s in sexe])
        + is_qpv * np.array([GAP_POINTS[s] for s in sexe]) / 100
    )
    admis = np.where(rng.random(rows) < p, "oui", "non")
    unplaceable = rng.random(rows) < UNPLACEABLE_SHARE
    frame = pd.DataFrame(
        {
            "id": [f"C{seed:02d}{i:07d}" for i in range(rows)],
            "adresse": _street_lines(address, unplaceable),
            "code_postal": address["code_postal"].str.zfill(5),
            "commune": address["nom_commune"],
            "sexe": sexe,
            "pcs": pcs,
            "academie": [ACADEMIE_OF_DEPT.get(c[:2], "Autre") for c in address["code_insee"]],
            "voeu": rng.choice(VOEUX, size=rows, p=VOEUX_P),
            "admis": admis,
        }
    )
    status = np.asarray(tagged.status[pick], dtype=object)
    status[unplaceable] = "not_found"
    code = np.asarray(tagged.code[pick], dtype=object)
    code[unplaceable] = None
    truth = pd.DataFrame({"qpv_status": status, "qpv_code": code, "qpv_geography": str(geography)})
    coordinates = address[["lon", "lat"]].reset_index(drop=True)
    return Example(frame, truth, index.get(geography).dataset.version, coordinates)


def _draw_addresses(
    rng: np.random.Generator, inside: NDArray[np.bool_], rows: int
) -> NDArray[np.int64]:
    in_ids, out_ids = np.flatnonzero(inside), np.flatnonzero(~inside)
    if in_ids.size == 0 or out_ids.size == 0:
        raise InvalidInput("the BAN extract needs addresses both inside and outside QPV")
    n_in = int(rng.binomial(rows, QPV_SHARE))
    pick = np.concatenate([rng.choice(in_ids, n_in), rng.choice(out_ids, rows - n_in)])
    return np.asarray(rng.permutation(pick), dtype=np.int64)


def _street_lines(address: pd.DataFrame, unplaceable: NDArray[np.bool_]) -> list[str]:
    rep = address["rep"].fillna("").astype(str)
    lines = (
        address["numero"].astype(str)
        + np.where(rep != "", " " + rep, "")
        + " "
        + address["nom_voie"]
    ).tolist()
    return [
        f"lieu-dit inconnu {i}" if u else line
        for i, (line, u) in enumerate(zip(lines, unplaceable, strict=True))
    ]


def tagged_file(example: Example, tagged_on: date | None = None) -> pd.DataFrame:
    """The rows with the tagging columns of their BAN coordinates, as a batch would add."""
    out = pd.concat([example.rows, example.truth], axis=1)
    out["qpv_dataset_version"] = example.dataset_version
    out["qpv_tagged_at"] = (tagged_on or date.today()).isoformat()
    return out
