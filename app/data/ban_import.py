"""The offline geocoder's storage, composed: BAN files into the database, and the
``local`` geocoder back out of it.

    import_ban_files(engine, paths)   # read each file (core), store it (db repository)
    load_local_geocoder(engine)       # tables (db repository) -> LocalGeocoder (core)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.db.ban_repository import read_ban_tables, replace_ban_file
from app.geocoding.ban_file import ReplaceScope, read_ban_file, streets_to_store
from app.geocoding.local import LocalGeocoder

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
    engine: Engine, paths: Iterable[Path], replace: ReplaceScope = "departement"
) -> list[ImportReport]:
    """Import BAN files; each replaces the rows of its départements (or communes).

    A file is read and checked completely before the database is touched, then stored in
    one transaction: a refused file leaves the database unchanged.
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
    return reports


def load_local_geocoder(engine: Engine) -> LocalGeocoder:
    """The offline geocoder built from the ``ban_streets`` and ``ban_addresses`` tables."""
    return LocalGeocoder(*read_ban_tables(engine))


def load_local_geocoder_if_ready(engine: Engine) -> LocalGeocoder | None:
    """``load_local_geocoder``, or ``None`` (logged) when its tables do not exist yet."""
    try:
        return load_local_geocoder(engine)
    except SQLAlchemyError:
        log.warning("local geocoder unavailable: run `qpv db upgrade`")
        return None
