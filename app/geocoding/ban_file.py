"""Official BAN CSV files (``adresses-DD.csv.gz``) read and checked into plain records.

A file is read and checked completely before anything is stored; what it becomes is a
``BanFile``: its streets, its address columns, and the street rows to store
(``streets_to_store``). Storage itself is the database adapter's business.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from app.codes import departement_of_citycode
from app.errors import ImportRefused
from app.folding import fix_mojibake
from app.geocoding.normalize import normalize_street
from app.hashing import file_sha256

REQUIRED_COLUMNS = (
    "id",
    "numero",
    "rep",
    "nom_voie",
    "code_postal",
    "code_insee",
    "nom_commune",
    "lon",
    "lat",
)
OPTIONAL_COLUMNS = ("id_fantoir", "nom_ancienne_commune", "libelle_acheminement")
# What a file replaces when imported: its whole départements, or only its communes.
ReplaceScope = Literal["departement", "commune"]
_ADDRESS_ID = re.compile(r"^(.+)_\d{5}(?:_[0-9A-Za-z]+)?$")


@dataclass
class BanStreetRow:
    """A street being built from the rows of a file."""

    citycode: str
    postcode: str
    city: str
    old_city: str | None
    delivery_city: str | None
    name: str
    ban_id: str | None


@dataclass
class BanFile:
    """A parsed, checked BAN file ready to be stored."""

    source_name: str
    sha256: str
    streets: list[BanStreetRow] = field(default_factory=list)
    # Address columns, parallel: street index (in ``streets``), numero, rep, lon, lat, id.
    street_index: list[int] = field(default_factory=list)
    numero: list[int] = field(default_factory=list)
    rep: list[str] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    ban_id: list[str] = field(default_factory=list)
    skipped: int = 0

    @property
    def citycodes(self) -> set[str]:
        """Communes present in the file."""
        return {s.citycode for s in self.streets}

    @property
    def departements(self) -> set[str]:
        """Départements present in the file."""
        return {departement_of_citycode(c) for c in self.citycodes}

    def scopes(self, replace: ReplaceScope) -> set[str]:
        """The départements or communes this file replaces."""
        return self.departements if replace == "departement" else self.citycodes


class StreetToStore(NamedTuple):
    """One street as stored (field names are the ``ban_streets`` column names, id aside)."""

    departement: str
    citycode: str
    postcode: str
    city: str
    old_city: str | None
    delivery_city: str | None
    name: str
    name_norm: str
    ban_id: str | None
    lon: float  # the address point nearest to the street's mean point
    lat: float
    address_count: int


def _open_text(path: Path) -> io.TextIOWrapper:
    with path.open("rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if gz else path.open("rb")  # noqa: SIM115 - the wrapper owns it
    # utf-8-sig: a BOM written by a spreadsheet must not end up in the first column name.
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def read_ban_file(path: Path) -> BanFile:
    """Parse and check one BAN CSV file (gzipped or not); refuse it if it is not BAN."""
    name = path.name
    if not path.is_file():
        raise ImportRefused(f"{name}: no such file")
    result = BanFile(source_name=name, sha256=file_sha256(path))
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh, delimiter=";")
            header = next(reader, None)
            if header is None:
                raise ImportRefused(f"{name}: empty file")
            columns = {h.strip().lower(): i for i, h in enumerate(header)}
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise ImportRefused(
                    f"{name}: not a BAN addresses file, missing columns: {', '.join(missing)}",
                    missing=missing,
                )
            _RowReader(columns, result).read(reader)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as exc:
        raise ImportRefused(f"{name}: unreadable ({type(exc).__name__})") from exc
    if not result.numero:
        raise ImportRefused(f"{name}: no valid address row")
    return result


class _RowReader:
    """Appends the rows of one file to a ``BanFile``, one street per (commune, postcode, name)."""

    def __init__(self, columns: dict[str, int], out: BanFile) -> None:
        self._out = out
        self._i = [columns[c] for c in REQUIRED_COLUMNS]
        self._optional = [columns.get(c) for c in OPTIONAL_COLUMNS]
        self._width = max(columns.values()) + 1
        self._streets: dict[tuple[str, str, str], int] = {}

    def read(self, reader: Iterator[list[str]]) -> None:
        """Read every row; count the ones that cannot be an address."""
        i_id, i_num, i_rep, i_voie, i_cp, i_insee, _, i_lon, i_lat = self._i
        out, width, streets = self._out, self._width, self._streets
        # Local aliases: this loop runs once per address (millions for a full export).
        append_si, append_num, append_rep = (
            out.street_index.append,
            out.numero.append,
            out.rep.append,
        )
        append_lon, append_lat, append_id = out.lon.append, out.lat.append, out.ban_id.append
        skipped = 0
        for row in reader:
            if len(row) < width:
                skipped += 1
                continue
            citycode = row[i_insee].strip()
            voie = row[i_voie].strip()
            try:
                numero = int(row[i_num])
                lon = float(row[i_lon])
                lat = float(row[i_lat])
            except ValueError:
                skipped += 1
                continue
            if len(citycode) != 5 or not voie or not (-180 <= lon <= 180 and -90 <= lat <= 90):
                skipped += 1
                continue
            key = (citycode, row[i_cp].strip(), voie)
            si = streets.get(key)
            if si is None:
                si = streets[key] = self._add_street(row, key)
            append_si(si)
            append_num(numero)
            append_rep(row[i_rep].strip().lower())
            append_lon(lon)
            append_lat(lat)
            append_id(row[i_id])
        out.skipped = skipped

    def _add_street(self, row: list[str], key: tuple[str, str, str]) -> int:
        citycode, postcode, voie = key
        i_id, i_city = self._i[0], self._i[6]
        i_fantoir, i_old, i_deliv = self._optional
        # The BAN address id is "<street id>_<5-digit number>[_<rep>]".
        m = _ADDRESS_ID.match(row[i_id])
        street_id = m.group(1) if m else None
        if i_fantoir is not None and row[i_fantoir]:
            street_id = street_id or row[i_fantoir]
        old_city = (fix_mojibake(row[i_old].strip()) or None) if i_old is not None else None
        self._out.streets.append(
            BanStreetRow(
                citycode=citycode,
                postcode=postcode,
                city=fix_mojibake(row[i_city].strip()),
                old_city=old_city,
                delivery_city=(row[i_deliv].strip() or None) if i_deliv is not None else None,
                name=fix_mojibake(voie),
                ban_id=street_id,
            )
        )
        return len(self._out.streets) - 1


def street_summaries(
    street_index: NDArray[np.int64], lon: NDArray[np.float64], lat: NDArray[np.float64], n: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Per street: the address point nearest to the mean point (lon, lat) and the count."""
    counts = np.bincount(street_index, minlength=n)
    safe = np.maximum(counts, 1)
    mean_lon = np.bincount(street_index, lon, minlength=n) / safe
    mean_lat = np.bincount(street_index, lat, minlength=n) / safe
    # The medoid-like point: on the street even when the street curves round its mean.
    coslat = np.cos(np.radians(mean_lat[street_index]))
    d2 = ((lon - mean_lon[street_index]) * coslat) ** 2 + (lat - mean_lat[street_index]) ** 2
    order = np.lexsort((d2, street_index))
    first = np.ones(len(order), dtype=bool)
    first[1:] = street_index[order][1:] != street_index[order][:-1]
    pick = order[first]
    out_lon = mean_lon.copy()
    out_lat = mean_lat.copy()
    out_lon[street_index[pick]] = lon[pick]
    out_lat[street_index[pick]] = lat[pick]
    return out_lon, out_lat, counts.astype(np.int64)


def streets_to_store(ban: BanFile) -> list[StreetToStore]:
    """The file's streets with their normalised name, summary point and address count."""
    si = np.asarray(ban.street_index, dtype=np.int64)
    lon = np.asarray(ban.lon, dtype=np.float64)
    lat = np.asarray(ban.lat, dtype=np.float64)
    s_lon, s_lat, s_count = street_summaries(si, lon, lat, len(ban.streets))
    return [
        StreetToStore(
            departement_of_citycode(s.citycode),
            s.citycode,
            s.postcode,
            s.city,
            s.old_city,
            s.delivery_city,
            s.name,
            normalize_street(s.name),
            s.ban_id,
            float(s_lon[i]),
            float(s_lat[i]),
            int(s_count[i]),
        )
        for i, s in enumerate(ban.streets)
    ]
