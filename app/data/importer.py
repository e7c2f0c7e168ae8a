"""Import a QPV file into the database: read, check, then store in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.data.reader import qpv_file_sha256, read_qpv_file
from app.db import repositories
from app.db.loader import ensure_grid
from app.spatial import grid
from app.spatial.geography import Geography
from app.spatial.records import DatasetInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: the stored dataset, and whether this import created it."""

    dataset: DatasetInfo
    created: bool  # False when the same content had been imported before

    @property
    def dataset_id(self) -> int:
        """The stored dataset's id."""
        return self.dataset.id

    @property
    def geography(self) -> Geography:
        """The dataset's geography."""
        return self.dataset.geography

    @property
    def feature_count(self) -> int:
        """How many quartiers the dataset holds."""
        return self.dataset.feature_count

    @property
    def repaired_count(self) -> int:
        """How many geometries the import repaired."""
        return self.dataset.repaired_count

    @property
    def sha256(self) -> str:
        """The source file's content hash."""
        return self.dataset.sha256


def import_qpv_file(
    engine: Engine,
    path: Path,
    geography: Geography | None = None,
    member: str | None = None,
    crs: str | None = None,
    source_url: str | None = None,
) -> ImportReport:
    """Import one QPV file; idempotent by content hash, all or nothing."""
    known = _known(engine, path, geography)
    if known is not None:
        return known
    qpv_file = read_qpv_file(path, geography=geography, member=member, crs=crs)
    with Session(engine) as session, session.begin():
        dataset = repositories.find_dataset_by_sha(session, qpv_file.sha256)
        created = dataset is None
        if dataset is None:
            dataset = repositories.add_dataset(session, qpv_file, source_url=source_url)
        report = ImportReport(dataset=dataset, created=created)
    # The membership grid takes a second or two to build: once here, not at every start-up.
    ensure_grid(engine, report.dataset_id)
    # Debug: the CLI prints the same summary, once.
    log.debug(
        "%s %s: geography %s, %d QPV (%d repaired), dataset %d",
        "imported" if created else "already imported",
        qpv_file.source_name,
        report.geography,
        report.feature_count,
        report.repaired_count,
        report.dataset_id,
    )
    return report


def _known(engine: Engine, path: Path, geography: Geography | None) -> ImportReport | None:
    """The report of an earlier import of the same content, without parsing the file again."""
    if not path.is_file():
        return None
    with Session(engine) as session:
        dataset = repositories.find_dataset_by_sha(session, qpv_file_sha256(path))
        if dataset is None or (geography is not None and dataset.geography != geography):
            return None  # a new file, or one to refuse: the full read says why
        report = ImportReport(dataset=dataset, created=False)
        has_grid = repositories.grid_payload(session, dataset.id, grid.FORMAT) is not None
    if not has_grid:
        ensure_grid(engine, report.dataset_id)
    return report
