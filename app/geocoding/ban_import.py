"""Import of official BAN CSV files (``adresses-DD.csv.gz``) into the offline geocoder tables.

A file is read and checked completely before the database is touched; then, in one
transaction, the rows of the départements it covers are deleted and the new rows bulk
loaded (COPY on PostgreSQL, executemany on SQLite). Re-importing a file is idempotent.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, bindparam, text

from app.codes import departement_of_citycode
from app.errors import ImportRefused
from app.folding import fix_mojibake
from app.geocoding.normalize import normalize_street
from app.hashing import file_sha256

log = logging.getLogger(__name__)

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
    """A parsed, checked BAN file ready to be loaded."""

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


@dataclass(frozen=True)
class ImportReport:
    """What one file import did."""

    source_name: str
    departements: tuple[str, ...]
    streets: int
    addresses: int
    skipped: int
    seconds: float


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
    streets: dict[tuple[str, str, str], int] = {}
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
            _read_rows(reader, columns, result, streets)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as exc:
        raise ImportRefused(f"{name}: unreadable ({type(exc).__name__})") from exc
    if not result.numero:
        raise ImportRefused(f"{name}: no valid address row")
    return result


def _read_rows(
    reader: Iterator[list[str]],
    columns: dict[str, int],
    out: BanFile,
    streets: dict[tuple[str, str, str], int],
) -> None:
    i_id, i_num, i_rep, i_voie, i_cp, i_insee, i_city, i_lon, i_lat = (
        columns[c] for c in REQUIRED_COLUMNS
    )
    i_fantoir = columns.get("id_fantoir")
    i_old = columns.get("nom_ancienne_commune")
    i_deliv = columns.get("libelle_acheminement")
    width = max(columns.values()) + 1
    # Local aliases: this loop runs once per address (millions for a full export).
    append_si, append_num, append_rep = out.street_index.append, out.numero.append, out.rep.append
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
        postcode = row[i_cp].strip()
        key = (citycode, postcode, voie)
        si = streets.get(key)
        if si is None:
            si = len(out.streets)
            streets[key] = si
            ban_id = row[i_id]
            # The BAN address id is "<street id>_<5-digit number>[_<rep>]".
            m = _ADDRESS_ID.match(ban_id)
            street_id = m.group(1) if m else None
            if i_fantoir is not None and row[i_fantoir]:
                street_id = street_id or row[i_fantoir]
            out.streets.append(
                BanStreetRow(
                    citycode=citycode,
                    postcode=postcode,
                    city=fix_mojibake(row[i_city].strip()),
                    old_city=(fix_mojibake(row[i_old].strip()) or None)
                    if i_old is not None
                    else None,
                    delivery_city=(row[i_deliv].strip() or None) if i_deliv is not None else None,
                    name=fix_mojibake(voie),
                    ban_id=street_id,
                )
            )
        append_si(si)
        append_num(numero)
        append_rep(row[i_rep].strip().lower())
        append_lon(lon)
        append_lat(lat)
        append_id(row[i_id])
    out.skipped = skipped


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


def import_ban_files(
    engine: Engine, paths: Iterable[Path], replace: ReplaceScope = "departement"
) -> list[ImportReport]:
    """Import BAN files; each replaces the rows of its départements (or communes)."""
    reports: list[ImportReport] = []
    # Two files of one département in one run (commune extracts) must add up, not erase
    # each other: a scope is only cleared the first time it is met.
    cleared: set[str] = set()
    for path in paths:
        started = datetime.now(UTC)
        ban = read_ban_file(Path(path))
        with engine.begin() as conn:
            counts = _load(conn, ban, replace, cleared)
        seconds = (datetime.now(UTC) - started).total_seconds()
        report = ImportReport(
            source_name=ban.source_name,
            departements=tuple(sorted(ban.departements)),
            streets=counts[0],
            addresses=counts[1],
            skipped=ban.skipped,
            seconds=seconds,
        )
        log.info(
            "BAN import %s: %d streets, %d addresses, %d rows skipped, %.1f s",
            report.source_name,
            report.streets,
            report.addresses,
            report.skipped,
            seconds,
        )
        reports.append(report)
    return reports


def _load(
    conn: Connection, ban: BanFile, replace: ReplaceScope, cleared: set[str]
) -> tuple[int, int]:
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # Concurrent imports would race on the ids assigned below.
        conn.exec_driver_sql("LOCK TABLE ban_streets, ban_addresses IN SHARE ROW EXCLUSIVE MODE")
    column = "departement" if replace == "departement" else "citycode"
    scopes = sorted((ban.departements if replace == "departement" else ban.citycodes) - cleared)
    if scopes:
        params = {"scopes": scopes}
        stmt_a = text(
            "DELETE FROM ban_addresses WHERE street_id IN "
            f"(SELECT id FROM ban_streets WHERE {column} IN :scopes)"
        ).bindparams(bindparam("scopes", expanding=True))
        stmt_s = text(f"DELETE FROM ban_streets WHERE {column} IN :scopes").bindparams(
            bindparam("scopes", expanding=True)
        )
        conn.execute(stmt_a, params)
        conn.execute(stmt_s, params)
        cleared.update(scopes)
    first_id = (
        int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM ban_streets")).scalar_one()) + 1
    )

    si = np.asarray(ban.street_index, dtype=np.int64)
    lon = np.asarray(ban.lon, dtype=np.float64)
    lat = np.asarray(ban.lat, dtype=np.float64)
    s_lon, s_lat, s_count = street_summaries(si, lon, lat, len(ban.streets))
    street_rows = [
        (
            first_id + i,
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
    street_ids = (si + first_id).tolist()
    address_rows = zip(street_ids, ban.numero, ban.rep, ban.lon, ban.lat, ban.ban_id, strict=True)
    street_cols = (
        "id, departement, citycode, postcode, city, old_city, delivery_city, name, name_norm, "
        "ban_id, lon, lat, address_count"
    )
    address_cols = "street_id, numero, rep, lon, lat, ban_id"
    if postgres:
        _copy(conn, "ban_streets", street_cols, street_rows)
        _copy(conn, "ban_addresses", address_cols, address_rows)
        # Keep the sequence ahead of the ids assigned here, should anything insert by default.
        conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('ban_addresses', 'id'), "
            "COALESCE((SELECT MAX(id) FROM ban_addresses), 1))"
        )
    else:
        cursor: Any = conn.connection.driver_connection
        cursor.executemany(
            f"INSERT INTO ban_streets ({street_cols}) VALUES ({', '.join('?' * 13)})", street_rows
        )
        cursor.executemany(
            f"INSERT INTO ban_addresses ({address_cols}) VALUES (?, ?, ?, ?, ?, ?)", address_rows
        )
    conn.execute(
        text(
            "INSERT INTO ban_imports (source_name, sha256, departements, street_count, "
            "address_count, skipped_count, imported_at) VALUES (:n, :h, :d, :s, :a, :k, :t)"
        ),
        {
            "n": ban.source_name,
            "h": ban.sha256,
            "d": ", ".join(sorted(ban.departements)),
            "s": len(street_rows),
            "a": len(ban.numero),
            "k": ban.skipped,
            "t": datetime.now(UTC),
        },
    )
    return len(street_rows), len(ban.numero)


def _copy(conn: Connection, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
