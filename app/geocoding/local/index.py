"""Lookups over the street table: by normalised key, by commune, by postcode, by city name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.codes import ARRONDISSEMENT_SUFFIX, ARRONDISSEMENTS
from app.geocoding.local.tables import StreetTable
from app.geocoding.normalize import normalize_city, street_key, strip_type


@dataclass(frozen=True, slots=True)
class StreetIndex:
    """Every way the matcher finds streets and communes; street ids are table positions."""

    city: list[str]  # display name: without "19e Arrondissement"
    keys: list[str]  # street_key of each normalised name
    by_key: dict[str, list[int]]
    by_notype: dict[str, list[int]]  # key without its type word
    by_city_norm: dict[tuple[str, str], list[int]]  # (citycode, name_norm)
    commune_streets: dict[str, list[int]]
    postcode_communes: dict[str, set[str]]
    city_names: dict[str, set[str]]  # normalised name, old name or delivery name -> codes
    city_keys: list[str]
    commune_name: dict[str, str]
    commune_point: dict[str, tuple[float, float]]


def index_streets(streets: StreetTable) -> StreetIndex:
    """Build every lookup of the street table."""
    keys = [street_key(n) for n in streets.name_norm]
    by_key: dict[str, list[int]] = {}
    by_notype: dict[str, list[int]] = {}
    by_city_norm: dict[tuple[str, str], list[int]] = {}
    commune_streets: dict[str, list[int]] = {}
    postcode_communes: dict[str, set[str]] = {}
    commune_name: dict[str, str] = {}
    for i, key in enumerate(keys):
        code = streets.citycode[i]
        by_key.setdefault(key, []).append(i)
        by_notype.setdefault(strip_type(key), []).append(i)
        by_city_norm.setdefault((code, streets.name_norm[i]), []).append(i)
        commune_streets.setdefault(code, []).append(i)
        postcode_communes.setdefault(streets.postcode[i], set()).add(code)
        commune_name.setdefault(code, streets.city[i])
    city = [ARRONDISSEMENT_SUFFIX.sub("", c) for c in streets.city]
    city_names = _city_names(streets, city, commune_streets)
    return StreetIndex(
        city=city,
        keys=keys,
        by_key=by_key,
        by_notype=by_notype,
        by_city_norm=by_city_norm,
        commune_streets=commune_streets,
        postcode_communes=postcode_communes,
        city_names=city_names,
        city_keys=list(city_names),
        commune_name=commune_name,
        commune_point={
            code: _central_point(streets, members) for code, members in commune_streets.items()
        },
    )


def _city_names(
    streets: StreetTable, city: list[str], commune_streets: dict[str, list[int]]
) -> dict[str, set[str]]:
    """Normalised commune names (current, former, delivery) to the communes they name."""
    names: dict[str, set[str]] = {}
    for i, code in enumerate(streets.citycode):
        for alias in (streets.city[i], streets.old_city[i], streets.delivery_city[i]):
            if alias:
                names.setdefault(normalize_city(alias), set()).add(code)
    for arrs in ARRONDISSEMENTS.values():
        # "Paris" typed alone: every arrondissement, whatever the file's spelling.
        present = {a for a in arrs if a in commune_streets}
        if present:
            first = commune_streets[min(present)][0]
            names.setdefault(normalize_city(city[first]), set()).update(present)
    return names


def _central_point(streets: StreetTable, members: list[int]) -> tuple[float, float]:
    # The street summary point nearest to the commune's mean: inside the commune.
    idx = np.asarray(members)
    lon, lat = streets.lon[idx], streets.lat[idx]
    d2 = (lon - lon.mean()) ** 2 + (lat - lat.mean()) ** 2
    k = int(np.argmin(d2))
    return float(lon[k]), float(lat[k])
