"""Import a QPV file into the database: read, check, then store in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.data.reader import read_qpv_file
from app.db import repositories
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
        existing = repositories.find_dataset_by_sha(session, qpv_file.sha256)
        if existing is not None:
            log.info("%s already imported as dataset %s", qpv_file.source_name, existing.id)
            return ImportReport(
                existing.id,
                Geography(existing.geography),
                existing.feature_count,
                existing.repaired_count,
                existing.sha256,
                created=False,
            )
        dataset = repositories.add_dataset(session, qpv_file, source_url=source_url)
        report = ImportReport(
            dataset.id,
            qpv_file.geography,
            len(qpv_file.rows),
            qpv_file.repaired_count,
            qpv_file.sha256,
            created=True,
        )
    log.info(
        "imported %s: geography %s, %d QPV (%d repaired) as dataset %d",
        qpv_file.source_name,
        report.geography,
        report.feature_count,
        report.repaired_count,
        report.dataset_id,
    )
    return report
