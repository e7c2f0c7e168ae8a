"""Build the in-memory index from the database (the system of record)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import repositories
from app.db.models import Dataset
from app.spatial import grid
from app.spatial.geography import Geography
from app.spatial.index import DatasetInfo, GeographyIndex, QpvIndex, QpvInfo, QpvSource

log = logging.getLogger(__name__)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def dataset_info(dataset: Dataset) -> DatasetInfo:
    """The core's view of a stored dataset."""
    return DatasetInfo(
        id=dataset.id,
        geography=Geography(dataset.geography),
        source_name=dataset.source_name,
        sha256=dataset.sha256,
        feature_count=dataset.feature_count,
        repaired_count=dataset.repaired_count,
        imported_at=dataset.imported_at,
    )


def build_geography(session: Session, dataset: Dataset) -> GeographyIndex:
    """Index one stored dataset, from its cached grid when there is a valid one."""
    sources = [
        QpvSource(
            QpvInfo(
                q.code,
                q.name,
                q.departement,
                q.territory,
                _split(q.communes),
                _split(q.insee_codes),
            ),
            q.geom,
        )
        for q in repositories.dataset_quartiers(session, dataset.id)
    ]
    payload = repositories.grid_payload(session, dataset.id, grid.FORMAT)
    return GeographyIndex.build(dataset_info(dataset), sources, payload)


def store_grid(engine: Engine, index: GeographyIndex) -> None:
    """Cache a freshly built grid so that the next start-up loads it (best effort)."""
    try:
        with Session(engine) as session, session.begin():
            repositories.save_grid(session, index.dataset.id, grid.FORMAT, index.grid.to_bytes())
    except SQLAlchemyError as exc:  # another worker stored it first, or a read-only DB
        log.info("grid of dataset %d not cached: %s", index.dataset.id, type(exc).__name__)


def load_index(engine: Engine) -> QpvIndex:
    """Load the dataset in use for every geography into a fresh index."""
    geographies: dict[Geography, GeographyIndex] = {}
    with Session(engine) as session:
        for dataset in repositories.current_datasets(session):
            geographies[Geography(dataset.geography)] = build_geography(session, dataset)
    for index in geographies.values():
        if not index.grid_loaded:
            log.info("grid of dataset %d built (no valid cache)", index.dataset.id)
            store_grid(engine, index)
    return QpvIndex(geographies)
