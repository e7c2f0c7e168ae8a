"""Per-row results of a block, as integer columns until a writer turns them into text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from app.geocoding import adresse
from app.geocoding.base import Candidate
from app.spatial.index import QpvIndex
from app.spatial.tagging import GEOGRAPHIES

# The first four are tag_ids' status codes, in its order.
BatchStatus = Literal[
    "in",
    "out",
    "near_boundary",
    "invalid",
    "not_found",
    "geocoder_error",
    "commune_without_qpv",
    "street_partial",
    "ambiguous",
]
STATUSES: tuple[str, ...] = get_args(BatchStatus)
STATUS_CODE = {name: i for i, name in enumerate(STATUSES)}
INVALID = STATUS_CODE["invalid"]
NOT_FOUND = STATUS_CODE["not_found"]
GEOCODER_ERROR = STATUS_CODE["geocoder_error"]
NEAR_BOUNDARY = STATUS_CODE["near_boundary"]


@dataclass(slots=True)
class Results:
    """Answers for the rows of one block, in row order."""

    status: NDArray[np.int8]  # position in STATUSES
    geography: NDArray[np.int8]  # position in GEOGRAPHIES, -1 when not answered
    qpv: NDArray[np.int32]  # id in that geography's index, -1 outside every QPV
    distance: NDArray[np.float64]  # metres to the nearest boundary, NaN when not computed
    lon: NDArray[np.float64]  # the position answered (given or geocoded), NaN when none
    lat: NDArray[np.float64]
    reason: dict[int, str] = field(default_factory=dict)  # sparse: rows that have one
    found: dict[int, Candidate] = field(default_factory=dict)  # sparse: geocoded rows
    next_score: dict[int, float] = field(default_factory=dict)  # sparse: the runner-up's score
    # Sparse: rows asked for their nearest address (reverse), its distance (NaN: none near).
    reverse_m: dict[int, float] = field(default_factory=dict)

    @classmethod
    def empty(cls, n: int) -> Results:
        """Every row invalid until answered."""
        return cls(
            status=np.full(n, INVALID, dtype=np.int8),
            geography=np.full(n, -1, dtype=np.int8),
            qpv=np.full(n, -1, dtype=np.int32),
            distance=np.full(n, np.nan),
            lon=np.full(n, np.nan),
            lat=np.full(n, np.nan),
        )

    def fail(self, row: int, status: int, reason: str) -> None:
        """Mark one row as not answered, with why."""
        self.status[row] = status
        self.reason[row] = reason

    def plain(self) -> NDArray[np.bool_]:
        """Rows whose result columns depend only on (status, geography, qpv)."""
        plain = np.isnan(self.distance)
        special = list(self.reason) + list(self.found) + list(self.reverse_m)
        if special:
            plain[np.array(special, dtype=np.int64)] = False
        return plain


class Labels:
    """Codes and names of every loaded quartier, under one global id per quartier."""

    def __init__(self, index: QpvIndex, tolerance_m: float = 15.0) -> None:
        self.near_reasons = [
            f"Within {tolerance_m:g} m of a QPV boundary, {side}: the side is not certain."
            for side in ("outside", "inside")
        ]
        self.offsets = np.zeros(len(GEOGRAPHIES), dtype=np.int64)
        codes: list[str] = []
        names: list[str] = []
        for g, geography in enumerate(GEOGRAPHIES):
            self.offsets[g] = len(codes)
            geo = index.geographies.get(geography)
            if geo is not None:
                codes.extend(info.code for info in geo.infos)
                names.extend(info.name for info in geo.infos)
        self.codes = codes
        self.names = names
        self.geographies = [str(g) for g in GEOGRAPHIES]

    def default_reason(self, results: Results, i: int) -> str | None:
        """The reason of a row that has none of its own (near_boundary rows)."""
        if results.status[i] == NEAR_BOUNDARY:
            return self.near_reasons[int(results.qpv[i] >= 0)]
        return None

    def global_ids(self, results: Results) -> NDArray[np.int64]:
        """One id per row over every geography's quartiers, -1 outside."""
        g = np.maximum(results.geography, 0)
        return np.where(results.qpv >= 0, self.offsets[g] + results.qpv, -1)


@dataclass(frozen=True, slots=True)
class Column:
    """One result column of a block: integer codes over categories, floats, or text."""

    kind: str  # "category", "float" or "text"
    values: Any  # int array (category, -1 missing), float array (NaN missing), or a list
    categories: list[str] | None = None

    def value(self, i: int) -> Any:
        """Row ``i`` as a Python value, None when missing."""
        v = self.values[i]
        if self.kind == "category":
            assert self.categories is not None
            return self.categories[v] if v >= 0 else None
        if self.kind == "float":
            return None if v != v else float(v)
        return v


def result_columns(labels: Labels, results: Results, names: tuple[str, ...]) -> dict[str, Column]:
    """The result columns asked for, kept as codes and arrays (no per-row objects)."""
    n = len(results.status)
    gids = labels.global_ids(results)
    reasons: list[str | None] = [None] * n
    for i in np.flatnonzero(results.status == NEAR_BOUNDARY).tolist():
        reasons[i] = labels.default_reason(results, i)
    for i, reason in results.reason.items():
        reasons[i] = reason
    distance = np.round(results.distance, 1)
    columns = {
        "qpv_status": Column("category", results.status.astype(np.int64), list(STATUSES)),
        "qpv_code": Column("category", gids, labels.codes),
        "qpv_name": Column("category", gids, labels.names),
        "qpv_distance_m": Column("float", distance),
        "qpv_geography": Column("category", results.geography.astype(np.int64), labels.geographies),
        "qpv_reason": Column("text", reasons),
    }
    columns.update(_geocoding_columns(results, n))
    wanted = [name for name in names if name not in columns]
    if wanted:
        columns.update(_adresse_columns(results, n, wanted))
    return {name: columns[name] for name in names}


def _geocoding_columns(results: Results, n: int) -> dict[str, Column]:
    lat, lon, score = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    texts: dict[str, list[str | None]] = {
        k: [None] * n for k in ("result_label", "result_type", "result_citycode", "result_postcode")
    }
    for i, found in results.found.items():
        lat[i], lon[i], score[i] = found.lat, found.lon, round(found.score, 4)
        texts["result_label"][i] = found.label
        texts["result_type"][i] = found.type.value
        texts["result_citycode"][i] = found.citycode
        texts["result_postcode"][i] = found.postcode
    out = {
        "latitude": Column("float", lat),
        "longitude": Column("float", lon),
        "result_score": Column("float", score),
    }
    out.update({k: Column("text", v) for k, v in texts.items()})
    return out


def _adresse_columns(results: Results, n: int, names: list[str]) -> dict[str, Column]:
    """API Adresse's columns (``adresse.ADRESSE_COLUMNS``) that are asked for."""
    numbers = {
        "result_latitude": np.full(n, np.nan),
        "result_longitude": np.full(n, np.nan),
        "result_score_next": np.full(n, np.nan),
    }
    texts: dict[str, list[str | None]] = {k: [None] * n for k in names if k not in numbers}
    if "result_distance" in texts:  # whole metres, as API Adresse writes them
        for i, metres in results.reverse_m.items():
            texts["result_distance"][i] = None if metres != metres else str(round(metres))
    for i, found in results.found.items():
        numbers["result_latitude"][i], numbers["result_longitude"][i] = found.lat, found.lon
        values = adresse.csv_values(found)
        for k, column in texts.items():
            if k in values:
                column[i] = values[k]
    for i, score in results.next_score.items():
        numbers["result_score_next"][i] = round(score, 4)
    if "result_status" in texts:
        texts["result_status"] = _row_statuses(results, n)
    out = {k: Column("float", v) for k, v in numbers.items() if k in names}
    out.update({k: Column("text", v) for k, v in texts.items()})
    return out


def _row_statuses(results: Results, n: int) -> list[str | None]:
    """API Adresse's result_status: ok, not-found, skipped (nothing to search) or error."""
    codes = results.status.tolist()
    out: list[str | None] = []
    for i in range(n):
        if i in results.found:
            out.append(adresse.OK)
        elif codes[i] == INVALID:
            out.append(adresse.SKIPPED)
        elif codes[i] == GEOCODER_ERROR:
            out.append(adresse.ERROR)
        else:
            out.append(adresse.NOT_FOUND)
    return out
