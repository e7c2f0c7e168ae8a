"""Lookups over the street table: by normalised key, by commune, by postcode, by city name.

They are computed with the tables (``tables.build_columns``): sorted key hashes and
commune groups as arrays, which a process maps from files rather than rebuilds, and a
small commune summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.codes import ARRONDISSEMENT_SUFFIX
from app.geocoding.local.columns import CodedColumn, GroupedRows, HashLookup, StringColumn
from app.geocoding.local.tables import StreetLookups, StreetRecord, StreetTable, build_tables
from app.geocoding.normalize import strip_type


@dataclass(frozen=True, slots=True)
class StreetIndex:
    """Every way the matcher finds streets and communes; street ids are table positions."""

    city: Sequence[str]  # display name: without "19e Arrondissement"
    keys: Sequence[str]  # street_key of each normalised name
    by_key: HashLookup[str]
    by_notype: HashLookup[str]  # key without its type word
    by_city_norm: HashLookup[tuple[str, str]]  # (citycode, name_norm)
    commune_streets: Mapping[str, list[int]]
    postcode_communes: dict[str, set[str]]
    city_names: dict[str, set[str]]  # normalised name, old name or delivery name -> codes
    city_keys: list[str]
    commune_name: dict[str, str]
    commune_point: dict[str, tuple[float, float]]


def index_streets(streets: StreetTable) -> StreetIndex:
    """The lookups of the street table (computed now if the table came without them)."""
    lookups = streets.lookups or _lookups_of(streets)
    arrays, meta = lookups.arrays, lookups.meta
    summary: Mapping[str, Any] = meta["summary"]
    keys = StringColumn(arrays["s_key_off"], arrays["s_key_blob"])
    citycode, name_norm = streets.citycode, streets.name_norm

    def hashed(name: str, matches: Any, to_text: Any = str) -> Any:
        return HashLookup(arrays[f"{name}_h"], arrays[f"{name}_r"], to_text, matches)

    city_names = {k: set(v) for k, v in summary["city_names"].items()}
    return StreetIndex(
        city=CodedColumn(
            arrays["s_city"], [ARRONDISSEMENT_SUFFIX.sub("", c) for c in meta["values"]["city"]]
        ),
        keys=keys,
        by_key=hashed("by_key", lambda s, k: keys[s] == k),
        by_notype=hashed("by_notype", lambda s, k: strip_type(keys[s]) == k),
        by_city_norm=hashed(
            "by_city_norm",
            lambda s, k: citycode[s] == k[0] and name_norm[s] == k[1],
            lambda k: f"{k[0]}\x1f{k[1]}",
        ),
        commune_streets=GroupedRows(
            meta["values"]["citycode"], arrays["commune_off"], arrays["commune_rows"]
        ),
        postcode_communes={k: set(v) for k, v in summary["postcode_communes"].items()},
        city_names=city_names,
        city_keys=list(city_names),
        commune_name=dict(summary["commune_name"]),
        commune_point={k: (p[0], p[1]) for k, p in summary["commune_point"].items()},
    )


def _lookups_of(streets: StreetTable) -> StreetLookups:
    """Lookups for a table assembled by hand (tests): built as an import builds them."""
    rows = [
        StreetRecord(
            i, streets.citycode[i], streets.postcode[i], streets.city[i], streets.old_city[i],
            streets.delivery_city[i], streets.name[i], streets.name_norm[i], streets.ban_id[i],
            float(streets.lon[i]), float(streets.lat[i]),
        )
        for i in range(len(streets))
    ]  # fmt: skip
    built, _ = build_tables(rows, [])
    assert built.lookups is not None
    return built.lookups
