"""Build the in-memory index from the database (the system of record)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.db import repositories
from app.spatial.geography import Geography
from app.spatial.index import DatasetInfo, GeographyIndex, QpvIndex, QpvInfo, QpvSource


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def load_index(engine: Engine) -> QpvIndex:
    """Load the dataset in use for every geography into a fresh index."""
    geographies: dict[Geography, GeographyIndex] = {}
    with Session(engine) as session:
        for dataset in repositories.current_datasets(session):
            info = DatasetInfo(
                id=dataset.id,
                geography=Geography(dataset.geography),
                source_name=dataset.source_name,
                sha256=dataset.sha256,
                feature_count=dataset.feature_count,
                repaired_count=dataset.repaired_count,
                imported_at=dataset.imported_at,
            )
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
            geographies[info.geography] = GeographyIndex.build(info, sources)
    return QpvIndex(geographies)
