"""Import a QPV file into the database: read, check, compare, then store in one transaction."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.data.plausibility import Changes, ImportLimits, compare
from app.data.reader import archive_member, qpv_file_sha256, read_qpv_file
from app.db import repositories
from app.db.loader import ensure_grid
from app.db.publication import announce_if_missing, publish
from app.db.records import DatasetRecord, QpvRow
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
    # The data generation this import published (running servers load it), None if none:
    # an import of what is already current publishes only an announcement that was missing.
    generation: int | None = None

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
    pause_at: str | None = None  # fault injection: wait, to be killed, at this step

    def step(self, name: str) -> None:
        """A named moment of the import: logged; the import waits there if told to."""
        log.debug("import step: %s", name)
        if name == self.pause_at:
            log.warning("import paused at step %s (QPV_IMPORT_PAUSE_AT): kill it", name)
            threading.Event().wait()


def import_qpv_file(
    engine: Engine,
    path: Path,
    geography: Geography | None = None,
    member: str | None = None,
    crs: str | None = None,
    source_url: str | None = None,
    options: ImportOptions | None = None,
) -> ImportReport:
    """Import one QPV file and make it current; keyed by content and member, all or nothing.

    Storing the dataset, marking it current and publishing a new data generation are one
    transaction: a kill at any moment leaves the old state or the new one, announced.
    """
    options = options or ImportOptions()
    limits = options.limits or ImportLimits.default()
    if path.is_file():
        known = _known(engine, path, archive_member(path, member), geography, options)
        if known is not None:
            return known
    qpv_file = read_qpv_file(path, geography, member, crs, max_vertices=limits.max_vertices)
    options.step("read")
    changes = _changes(engine, qpv_file, limits)
    options.step("compared")
    if changes is not None and changes.exceeded and not options.force:
        raise ImportRefused(changes.refusal(qpv_file.source_name))
    # The membership grid takes a second or two to build: before the transaction, which
    # stores it with the dataset, so that no server loads the dataset without it.
    payload = grid_payload(qpv_file.rows)
    with Session(engine) as session, session.begin():
        dataset = repositories.find_dataset_by_sha(session, qpv_file.sha256, qpv_file.member)
        if dataset is not None:  # imported meanwhile by another process
            report = ImportReport(dataset, "already imported", changes)
        else:
            dataset = repositories.add_dataset(session, qpv_file, source_url=source_url)
            repositories.save_grid(session, dataset.id, grid.FORMAT, payload)
            options.step("written")
            generation = publish(session.connection())
            options.step("announced")
            report = ImportReport(dataset, "imported", changes, generation)
    options.step("committed")
    _log(report, qpv_file.source_name)
    return report


def grid_payload(rows: list[QpvRow]) -> bytes:
    """The membership grid of a dataset's rows, as the index stores it (ordered by code)."""
    ordered = sorted(rows, key=lambda row: row.code)
    return grid.CellGrid.build(np.array([row.geom for row in ordered], dtype=object)).to_bytes()


def _log(report: ImportReport, source_name: str) -> None:
    # Debug: the CLI prints the same summary, once.
    log.debug(
        "%s %s: geography %s, %d QPV (%d repaired), dataset %d, generation %s",
        report.outcome,
        source_name,
        report.geography,
        report.feature_count,
        report.repaired_count,
        report.dataset_id,
        report.generation,
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
    engine: Engine, path: Path, member: str, geography: Geography | None, options: ImportOptions
) -> ImportReport | None:
    """The report of an earlier import of the same content, without parsing the file again.

    A previous dataset is made current again (``reactivate``) and published; one already
    current is published only if no generation announced it (an import killed between its
    commit and its announcement, before both were one transaction).
    """
    with Session(engine) as session:
        dataset = repositories.find_dataset_by_sha(session, qpv_file_sha256(path), member)
        if dataset is None or (geography is not None and dataset.geography != geography):
            return None  # a new file, or one to refuse: the full read says why
        has_grid = repositories.grid_payload(session, dataset.id, grid.FORMAT) is not None
    if not has_grid:  # before it can become current: servers load it whole
        ensure_grid(engine, dataset.id)
    reactivate = options.reactivate and dataset.state != "current"
    with Session(engine) as session, session.begin():
        if reactivate:
            dataset = repositories.make_current(session, dataset.id) or dataset
            generation: int | None = publish(session.connection())
        else:
            generation = announce_if_missing(session.connection())
    report = ImportReport(
        dataset, "made current" if reactivate else "already imported", generation=generation
    )
    _log(report, dataset.source_name)
    return report


def use_dataset(engine: Engine, dataset_id: int) -> tuple[DatasetInfo, int]:
    """Make a stored dataset the current one of its geography (``qpv data use``), published:
    the dataset and the data generation that announces it."""
    with Session(engine) as session:
        if repositories.get_dataset(session, dataset_id) is None:
            raise NotFound(f"no dataset {dataset_id}: `qpv data list` shows the stored ones")
    ensure_grid(engine, dataset_id)
    with Session(engine) as session, session.begin():
        dataset = repositories.make_current(session, dataset_id)
        generation = publish(session.connection())
    assert dataset is not None  # datasets are never deleted
    return dataset, generation


def list_datasets(engine: Engine) -> list[DatasetInfo]:
    """Every stored QPV dataset, newest first, with its state."""
    with Session(engine) as session:
        return repositories.all_datasets(session)
