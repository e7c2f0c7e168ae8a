"""Import a QPV file into the database: read, check, compare, then store in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.data.plausibility import Changes, ImportLimits, compare
from app.data.reader import archive_member, qpv_file_sha256, read_qpv_file
from app.db import repositories
from app.db.loader import ensure_grid
from app.db.records import DatasetRecord
from app.errors import ImportRefused, NotFound
from app.spatial import grid
from app.spatial.geography import Geography
from app.spatial.records import DatasetInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: the stored dataset, what became of it, and what it changed."""

    dataset: DatasetInfo
    # "imported"; "already imported" (current already, or left as it was);
    # "made current" (a previous dataset imported again: the undo of a later import).
    outcome: str
    changes: Changes | None = None  # from the dataset in use, when there was one

    @property
    def created(self) -> bool:
        """Whether this import stored a new dataset."""
        return self.outcome == "imported"

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


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How an import decides: its limits, whether to pass them, whether to switch back."""

    limits: ImportLimits | None = None  # None: the default settings' limits
    force: bool = False  # store and use a dataset past the limits
    # A file imported before becomes current again (the undo of a later import); sync, which
    # only adds what is missing, leaves the choice of the operator (`qpv data use`) alone.
    reactivate: bool = True


def import_qpv_file(
    engine: Engine,
    path: Path,
    geography: Geography | None = None,
    member: str | None = None,
    crs: str | None = None,
    source_url: str | None = None,
    options: ImportOptions | None = None,
) -> ImportReport:
    """Import one QPV file and make it current; keyed by content and member, all or nothing."""
    options = options or ImportOptions()
    limits = options.limits or ImportLimits.default()
    if path.is_file():
        known = _known(engine, path, archive_member(path, member), geography, options.reactivate)
        if known is not None:
            return known
    qpv_file = read_qpv_file(path, geography, member, crs, max_vertices=limits.max_vertices)
    changes = _changes(engine, qpv_file, limits)
    if changes is not None and changes.exceeded and not options.force:
        raise ImportRefused(
            f"{qpv_file.source_name} differs too much from the dataset in use "
            f"({', '.join(changes.exceeded)} past the limits): {changes}; "
            "import it anyway with --force"
        )
    with Session(engine) as session, session.begin():
        dataset = repositories.find_dataset_by_sha(session, qpv_file.sha256, qpv_file.member)
        outcome = "already imported" if dataset is not None else "imported"
        if dataset is None:
            dataset = repositories.add_dataset(session, qpv_file, source_url=source_url)
        report = ImportReport(dataset=dataset, outcome=outcome, changes=changes)
    # The membership grid takes a second or two to build: once here, not at every start-up.
    ensure_grid(engine, report.dataset_id)
    _log(report, qpv_file.source_name)
    return report


def _log(report: ImportReport, source_name: str) -> None:
    # Debug: the CLI prints the same summary, once.
    log.debug(
        "%s %s: geography %s, %d QPV (%d repaired), dataset %d",
        report.outcome,
        source_name,
        report.geography,
        report.feature_count,
        report.repaired_count,
        report.dataset_id,
    )


def _changes(engine: Engine, record: DatasetRecord, limits: ImportLimits) -> Changes | None:
    """What the new dataset changes from the one in use of its geography, if there is one."""
    with Session(engine) as session:
        current = [
            d for d in repositories.current_datasets(session) if d.geography == record.geography
        ]
        if not current:
            return None
        old = [
            (q.info.code, q.geom) for q in repositories.dataset_quartiers(session, current[0].id)
        ]
    return compare(current[0].id, old, ((row.code, row.geom) for row in record.rows), limits)


def _known(
    engine: Engine, path: Path, member: str, geography: Geography | None, reactivate: bool
) -> ImportReport | None:
    """The report of an earlier import of the same content, without parsing the file again."""
    with Session(engine) as session, session.begin():
        dataset = repositories.find_dataset_by_sha(session, qpv_file_sha256(path), member)
        if dataset is None or (geography is not None and dataset.geography != geography):
            return None  # a new file, or one to refuse: the full read says why
        outcome = "already imported"
        if reactivate and dataset.state != "current":
            dataset = repositories.make_current(session, dataset.id) or dataset
            outcome = "made current"
        report = ImportReport(dataset=dataset, outcome=outcome)
        has_grid = repositories.grid_payload(session, dataset.id, grid.FORMAT) is not None
    if not has_grid:
        ensure_grid(engine, report.dataset_id)
    _log(report, dataset.source_name)
    return report


def use_dataset(engine: Engine, dataset_id: int) -> DatasetInfo:
    """Make a stored dataset the current one of its geography (``qpv data use``)."""
    with Session(engine) as session, session.begin():
        dataset = repositories.make_current(session, dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id}: `qpv data list` shows the stored ones")
    ensure_grid(engine, dataset_id)
    return dataset


def list_datasets(engine: Engine) -> list[DatasetInfo]:
    """Every stored QPV dataset, newest first, with its state."""
    with Session(engine) as session:
        return repositories.all_datasets(session)
