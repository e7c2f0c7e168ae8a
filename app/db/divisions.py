"""Queries on the administrative-divisions tables, and loading them into the plain reference."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db.models import Commune, DivisionsImport
from app.divisions import AdminDivisions, CommuneEntry, CommuneKind, DivisionsInfo

log = logging.getLogger(__name__)


def _join(values: Iterable[str]) -> str:
    return ", ".join(values)


def _split(value: str) -> tuple[str, ...]:
    return tuple(filter(None, value.split(", "))) if value else ()


def find_import_by_sha(session: Session, sha256: str) -> DivisionsImport | None:
    """The import of a package with this content hash, if any."""
    return session.scalar(select(DivisionsImport).where(DivisionsImport.sha256 == sha256))


def add_import(
    session: Session,
    source_name: str,
    sha256: str,
    package_version: str | None,
    entries: list[CommuneEntry],
    source_url: str | None = None,
) -> DivisionsImport:
    """Store a package and its communes (the caller owns the transaction)."""
    stored = DivisionsImport(
        source_name=source_name,
        source_url=source_url,
        sha256=sha256,
        package_version=package_version,
        commune_count=len(entries),
        imported_at=datetime.now(UTC),
    )
    session.add(stored)
    session.flush()
    session.execute(
        insert(Commune),
        [
            {
                "import_id": stored.id,
                "code": e.code,
                "name": e.name,
                "kind": str(e.kind),
                "departement": e.departement,
                "parent": e.parent,
                "postcodes": _join(e.postcodes),
                "former_codes": _join(e.former_codes),
            }
            for e in entries
        ],
    )
    return stored


def current_import(session: Session) -> DivisionsImport | None:
    """The package in use: the most recently imported one."""
    newest = select(func.max(DivisionsImport.id)).scalar_subquery()
    return session.scalar(select(DivisionsImport).where(DivisionsImport.id == newest))


def import_entries(session: Session, import_id: int) -> list[CommuneEntry]:
    """Every entry of one imported package."""
    # 37,590 rows read at every start-up: a Core query on the session's connection (no ORM
    # row processing), the kinds looked up in a dict, the lists split without a generator.
    rows = session.connection().execute(
        select(
            Commune.code,
            Commune.name,
            Commune.kind,
            Commune.departement,
            Commune.parent,
            Commune.postcodes,
            Commune.former_codes,
        ).where(Commune.import_id == import_id)
    )
    kinds = {str(kind): kind for kind in CommuneKind}
    return [
        CommuneEntry(code, name, kinds[kind], dept, parent, _split(pcs), _split(former))
        for code, name, kind, dept, parent, pcs, former in rows
    ]


def load_divisions(engine: Engine, import_id: int | None = None) -> AdminDivisions | None:
    """The reference of one import (default: the one in use), or None when none is imported
    (or the tables are missing)."""
    try:
        with Session(engine) as session:
            if import_id is None:
                stored = current_import(session)
            else:
                stored = session.get(DivisionsImport, import_id)
            if stored is None:
                return None
            entries = import_entries(session, stored.id)
    except SQLAlchemyError as exc:
        log.warning("administrative divisions unavailable: %s", type(exc).__name__)
        return None
    info = DivisionsInfo(stored.source_name, stored.sha256, stored.commune_count)
    return AdminDivisions.from_entries(info, entries)
