"""Import a QPV file into the database: read, check, then store in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.data.reader import read_qpv_file
from app.db import repositories
from app.db.loader import ensure_grid
from app.spatial.geography import Geography

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did."""

    dataset_id: int
    geography: Geography
    feature_count: int
    repaired_count: int
    sha256: str
    created: bool  # False when the same content had been imported before


def import_qpv_file(
    engine: Engine,
    path: Path,
    geography: Geography | None = None,
    member: str | None = None,
    crs: str | None = None,
    source_url: str | None = None,
) -> ImportReport:
    """Import one QPV file; idempotent by content hash, all or nothing."""
    qpv_file = read_qpv_file(path, geography=geography, member=member, crs=crs)
    with Session(engine) as session, session.begin():
        dataset = repositories.find_dataset_by_sha(session, qpv_file.sha256)
        created = dataset is None
        if dataset is None:
            dataset = repositories.add_dataset(session, qpv_file, source_url=source_url)
        report = ImportReport(
            dataset_id=dataset.id,
            geography=dataset.geography,
            feature_count=dataset.feature_count,
            repaired_count=dataset.repaired_count,
            sha256=dataset.sha256,
            created=created,
        )
    # The membership grid takes a second or two to build: once here, not at every start-up.
    ensure_grid(engine, report.dataset_id)
    log.info(
        "%s %s: geography %s, %d QPV (%d repaired), dataset %d",
        "imported" if created else "already imported",
        qpv_file.source_name,
        report.geography,
        report.feature_count,
        report.repaired_count,
        report.dataset_id,
    )
    return report
