"""Commune-level facts of a street table, computed once with it (a few per commune).

Postcodes to communes, commune names (current, former, delivery) to communes, the display
name and a central point of each commune: small enough to load in every process, costly
enough (a pass over every street) to compute only at build time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.codes import ARRONDISSEMENT_SUFFIX, ARRONDISSEMENTS
from app.geocoding.normalize import normalize_city


def commune_summary(
    arrays: Mapping[str, NDArray[Any]], values: Mapping[str, list[Any]]
) -> dict[str, Any]:
    """Postcode and name lookups, names and central points of communes (JSON-ready)."""
    codes = values["citycode"]
    off, rows = arrays["commune_off"], arrays["commune_rows"]
    city_code = arrays["s_city"]
    commune_name: dict[str, str] = {}
    commune_point: dict[str, list[float]] = {}
    for g, code in enumerate(codes):
        members = rows[off[g] : off[g + 1]]
        if len(members):
            commune_name[code] = values["city"][int(city_code[members[0]])]
            commune_point[code] = _central_point(arrays["s_lon"][members], arrays["s_lat"][members])
    postcode_communes: dict[str, set[str]] = {}
    for p, c in _pairs(arrays["s_postcode"], arrays["s_citycode"]):
        postcode_communes.setdefault(values["postcode"][p], set()).add(codes[c])
    return {
        "postcode_communes": {k: sorted(v) for k, v in postcode_communes.items()},
        "city_names": {k: sorted(v) for k, v in _city_names(arrays, values, commune_name).items()},
        "commune_name": commune_name,
        "commune_point": commune_point,
    }


def _pairs(a: NDArray[Any], b: NDArray[Any]) -> list[tuple[int, int]]:
    """The distinct (a, b) code pairs."""
    if not len(a):
        return []
    both = np.unique(np.stack([a.astype(np.int64), b.astype(np.int64)], axis=1), axis=0)
    return [(int(x), int(y)) for x, y in both.tolist()]


def _city_names(
    arrays: Mapping[str, NDArray[Any]], values: Mapping[str, list[Any]], first_city: dict[str, str]
) -> dict[str, set[str]]:
    """Normalised commune names (current, former, delivery) to the communes they name."""
    names: dict[str, set[str]] = {}
    codes = values["citycode"]
    columns = ("s_citycode", "s_city", "s_old_city", "s_delivery_city")
    combos = np.stack([arrays[c].astype(np.int64) for c in columns], axis=1)
    if len(combos):
        # In order of first appearance, as a pass over the streets would meet them: the
        # order of the fuzzy city candidates (ties go to the first).
        unique, first = np.unique(combos, axis=0, return_index=True)
        for row in unique[np.argsort(first)].tolist():
            for column, code in zip(columns[1:], row[1:], strict=True):
                alias = values[column[2:]][code]
                if alias:
                    names.setdefault(normalize_city(alias), set()).add(codes[row[0]])
    for arrs in ARRONDISSEMENTS.values():
        # "Paris" typed alone: every arrondissement, whatever the file's spelling.
        present = {a for a in arrs if a in first_city}
        if present:
            display = ARRONDISSEMENT_SUFFIX.sub("", first_city[min(present)])
            names.setdefault(normalize_city(display), set()).update(present)
    return names


def _central_point(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> list[float]:
    # The street summary point nearest to the commune's mean: inside the commune.
    d2 = (lon - lon.mean()) ** 2 + (lat - lat.mean()) ** 2
    k = int(np.argmin(d2))
    return [float(lon[k]), float(lat[k])]
