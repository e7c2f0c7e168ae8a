"""Queries on the QPV tables; the only place that knows their SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.data.reader import QpvFile, QpvRow
from app.db.models import Dataset, Qpv, QpvGrid


def find_dataset_by_sha(session: Session, sha256: str) -> Dataset | None:
    """The dataset imported from a file with this content hash, if any."""
    return session.scalar(select(Dataset).where(Dataset.sha256 == sha256))


def add_dataset(session: Session, qpv_file: QpvFile, source_url: str | None = None) -> Dataset:
    """Store a dataset and its quartiers (the caller owns the transaction)."""
    dataset = Dataset(
        geography=str(qpv_file.geography),
        source_name=qpv_file.source_name,
        source_url=source_url,
        sha256=qpv_file.sha256,
        feature_count=len(qpv_file.rows),
        repaired_count=qpv_file.repaired_count,
        source_crs=qpv_file.source_crs,
        imported_at=datetime.now(UTC),
    )
    session.add(dataset)
    session.flush()
    session.execute(
        insert(Qpv),
        [
            {
                "dataset_id": dataset.id,
                "code": row.code,
                "name": row.name,
                "departement": row.departement,
                "territory": row.territory,
                "communes": row.communes,
                "insee_codes": row.insee_codes,
                "geom": row.geom,
            }
            for row in qpv_file.rows
        ],
    )
    return dataset


def current_datasets(session: Session) -> list[Dataset]:
    """The dataset in use for each geography: the most recently imported one."""
    latest = select(func.max(Dataset.id)).group_by(Dataset.geography).scalar_subquery()
    return list(session.scalars(select(Dataset).where(Dataset.id.in_(latest))))


def all_datasets(session: Session) -> Sequence[Dataset]:
    """Every imported dataset, newest first."""
    return session.scalars(select(Dataset).order_by(Dataset.id.desc())).all()


def dataset_quartiers(session: Session, dataset_id: int) -> list[QpvRow]:
    """The quartiers of one dataset, ordered by code."""
    rows = session.execute(
        select(
            Qpv.code,
            Qpv.name,
            Qpv.departement,
            Qpv.territory,
            Qpv.communes,
            Qpv.insee_codes,
            Qpv.geom,
        )
        .where(Qpv.dataset_id == dataset_id)
        .order_by(Qpv.code)
    )
    return [QpvRow(*row) for row in rows]


def grid_payload(session: Session, dataset_id: int, grid_format: int) -> bytes | None:
    """The cached membership grid of a dataset, if one of this format is stored."""
    grid = session.get(QpvGrid, dataset_id)
    return grid.payload if grid is not None and grid.format == grid_format else None


def save_grid(session: Session, dataset_id: int, grid_format: int, payload: bytes) -> None:
    """Store (or replace) the membership grid of a dataset."""
    session.merge(QpvGrid(dataset_id=dataset_id, format=grid_format, payload=payload))
