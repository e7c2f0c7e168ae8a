"""Build the in-memory index from the database (the system of record)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import repositories
from app.db.models import Dataset
from app.divisions import AdminDivisions
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


def _communes(
    communes: str, insee_codes: str, divisions: AdminDivisions | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Commune names and INSEE codes of a quartier: as published, the names filled from the
    codes when the file has none (2024), and the code of the commune that has since absorbed
    a merged one added, so that today's addresses find their quartiers."""
    names, codes = _split(communes), _split(insee_codes)
    if divisions is None:
        return names, codes
    if not names:
        found = (divisions.name(code) or divisions.current_name(code) for code in codes)
        names = tuple(dict.fromkeys(name for name in found if name))
    current = (divisions.current_code(code) for code in codes)
    codes += tuple(dict.fromkeys(c for c in current if c is not None and c not in codes))
    return names, codes


def build_geography(
    session: Session, dataset: Dataset, divisions: AdminDivisions | None = None
) -> GeographyIndex:
    """Index one stored dataset, from its cached grid when there is a valid one."""
    sources = []
    for q in repositories.dataset_quartiers(session, dataset.id):
        names, codes = _communes(q.communes, q.insee_codes, divisions)
        info = QpvInfo(q.code, q.name, q.departement, q.territory, names, codes)
        sources.append(QpvSource(info, q.geom))
    payload = repositories.grid_payload(session, dataset.id, grid.FORMAT)
    return GeographyIndex.build(dataset_info(dataset), sources, payload)


def store_grid(engine: Engine, index: GeographyIndex) -> None:
    """Cache a freshly built grid so that the next start-up loads it (best effort)."""
    try:
        with Session(engine) as session, session.begin():
            repositories.save_grid(session, index.dataset.id, grid.FORMAT, index.grid.to_bytes())
    except SQLAlchemyError as exc:  # another worker stored it first, or a read-only DB
        log.info("grid of dataset %d not cached: %s", index.dataset.id, type(exc).__name__)


def load_index(engine: Engine, divisions: AdminDivisions | None = None) -> QpvIndex:
    """Load the dataset in use for every geography into a fresh index; the administrative
    divisions, when given, name the communes that a file gives by INSEE code only."""
    geographies: dict[Geography, GeographyIndex] = {}
    with Session(engine) as session:
        for dataset in repositories.current_datasets(session):
            index = build_geography(session, dataset, divisions)
            geographies[Geography(dataset.geography)] = index
    for index in geographies.values():
        if not index.grid_loaded:
            log.info("grid of dataset %d built (no valid cache)", index.dataset.id)
            store_grid(engine, index)
    return QpvIndex(geographies)
