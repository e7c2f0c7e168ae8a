"""Build the in-memory index from the database (the system of record).

The adapter that composes storage and the spatial core: the core knows no database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import repositories
from app.divisions import AdminDivisions
from app.spatial import grid
from app.spatial.geography import Geography
from app.spatial.index import GeographyIndex, QpvIndex
from app.spatial.records import DatasetInfo, QpvSource

log = logging.getLogger(__name__)


def _named(source: QpvSource, divisions: AdminDivisions) -> QpvSource:
    """The quartier with its communes completed from the administrative divisions."""
    names, codes = divisions.complete(source.info.communes, source.info.insee_codes)
    return replace(source, info=replace(source.info, communes=names, insee_codes=codes))


def build_geography(
    session: Session, dataset: DatasetInfo, divisions: AdminDivisions | None = None
) -> GeographyIndex:
    """Index one stored dataset, from its cached grid when there is a valid one."""
    sources = repositories.dataset_quartiers(session, dataset.id)
    if divisions is not None:
        sources = [_named(source, divisions) for source in sources]
    payload = repositories.grid_payload(session, dataset.id, grid.FORMAT)
    return GeographyIndex.build(dataset, sources, payload)


def store_grid(engine: Engine, index: GeographyIndex) -> None:
    """Cache a freshly built grid so that the next start-up loads it (best effort)."""
    try:
        with Session(engine) as session, session.begin():
            repositories.save_grid(session, index.dataset.id, grid.FORMAT, index.grid.to_bytes())
    except SQLAlchemyError as exc:  # another worker stored it first, or a read-only DB
        log.info("grid of dataset %d not cached: %s", index.dataset.id, type(exc).__name__)


def ensure_grid(engine: Engine, dataset_id: int) -> None:
    """Build and cache a dataset's membership grid unless a valid one is stored."""
    with Session(engine) as session:
        dataset = repositories.get_dataset(session, dataset_id)
        assert dataset is not None
        index = build_geography(session, dataset)
    if not index.grid_loaded:
        store_grid(engine, index)


def load_index(
    engine: Engine,
    divisions: AdminDivisions | None = None,
    datasets: Iterable[DatasetInfo] | None = None,
) -> QpvIndex:
    """Load ``datasets`` (default: the dataset in use for every geography) into a fresh index;
    the administrative divisions, when given, name the communes that a file gives by INSEE
    code only."""
    geographies: dict[Geography, GeographyIndex] = {}
    with Session(engine) as session:
        for dataset in repositories.current_datasets(session) if datasets is None else datasets:
            geographies[dataset.geography] = build_geography(session, dataset, divisions)
    for index in geographies.values():
        if not index.grid_loaded:
            log.info("grid of dataset %d built (no valid cache)", index.dataset.id)
            store_grid(engine, index)
    return QpvIndex(geographies)
