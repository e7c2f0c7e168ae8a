"""The offline geocoder's storage, composed: BAN files into the database, and the
``local`` geocoder back out of it.

    import_ban_files(engine, paths, store_root=dir)  # read each file (core), store it (db
                                                     # repository), then build the mapped store
    load_local_geocoder(engine, dir)  # the mapped store (built from the database if missing)
                                      # -> LocalGeocoder (core)

The database is the source of truth; the store under ``dir`` (``settings.geocoder_dir``) is
a read-only copy keyed by the imports it holds, so replicas and restarts re-use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.db.ban_repository import (
    imports_fingerprint,
    read_ban_tables,
    replace_ban_file,
    write_ban_store,
)
from app.geocoding.ban_file import ReplaceScope, read_ban_file, streets_to_store
from app.geocoding.local import AddressTable, LocalGeocoder, StreetTable
from app.geocoding.local.store import ensure_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    """What one file import did."""

    source_name: str
    departements: tuple[str, ...]
    streets: int
    addresses: int
    skipped: int
    seconds: float


def import_ban_files(
    engine: Engine,
    paths: Iterable[Path],
    replace: ReplaceScope = "departement",
    store_root: Path | None = None,
) -> list[ImportReport]:
    """Import BAN files; each replaces the rows of its départements (or communes).

    A file is read and checked completely before the database is touched, then stored in
    one transaction: a refused file leaves the database unchanged. With ``store_root``, the
    geocoder's mapped store is then built from the database (once, for all the files).
    """
    reports: list[ImportReport] = []
    # Two files of one département in one run (commune extracts) must add up, not erase
    # each other: a scope is only cleared the first time it is met.
    cleared: set[str] = set()
    for path in paths:
        started = datetime.now(UTC)
        ban = read_ban_file(Path(path))
        streets = streets_to_store(ban)
        scopes = ban.scopes(replace) - cleared
        with engine.begin() as conn:
            replace_ban_file(conn, ban, streets, replace=replace, scopes=scopes)
        cleared |= scopes
        report = ImportReport(
            source_name=ban.source_name,
            departements=tuple(sorted(ban.departements)),
            streets=len(streets),
            addresses=len(ban.numero),
            skipped=ban.skipped,
            seconds=(datetime.now(UTC) - started).total_seconds(),
        )
        log.debug(
            "BAN import %s: %d streets, %d addresses, %d rows skipped, %.1f s",
            report.source_name,
            report.streets,
            report.addresses,
            report.skipped,
            report.seconds,
        )
        reports.append(report)
    if store_root is not None and reports:
        geocoder_tables(engine, store_root)
    return reports


def geocoder_tables(engine: Engine, store_root: Path) -> tuple[StreetTable, AddressTable]:
    """The tables of the store of the database's current imports, built if missing."""
    return ensure_store(
        store_root,
        imports_fingerprint(engine),
        lambda directory: write_ban_store(engine, directory),
    )


def load_local_geocoder(engine: Engine, store_root: Path | None = None) -> LocalGeocoder:
    """The offline geocoder of the ``ban_streets`` and ``ban_addresses`` tables.

    With ``store_root``: mapped from the store of the current imports (built first if
    missing); without: read into this process's memory.
    """
    if store_root is None:
        return LocalGeocoder(*read_ban_tables(engine))
    return LocalGeocoder(*geocoder_tables(engine, store_root))


def load_local_geocoder_if_ready(
    engine: Engine, store_root: Path | None = None
) -> LocalGeocoder | None:
    """``load_local_geocoder``, or ``None`` (logged) when its tables do not exist yet."""
    try:
        return load_local_geocoder(engine, store_root)
    except SQLAlchemyError:
        log.warning("local geocoder unavailable: run `qpv db upgrade`")
        return None
    except OSError as exc:
        # An unwritable or full store folder: the service still answers, from memory.
        log.warning("local geocoder store unavailable (%s): tables read into memory", exc)
        return load_local_geocoder(engine)
