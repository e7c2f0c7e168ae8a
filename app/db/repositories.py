"""Queries on the QPV tables; the only place that knows their SQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.db.models import Dataset, Qpv, QpvGrid
from app.db.records import DatasetRecord
from app.spatial.geography import Geography
from app.spatial.records import DatasetInfo, QpvInfo, QpvSource


def dataset_info(dataset: Dataset) -> DatasetInfo:
    """The core's record of a stored dataset (the one mapping of the datasets table)."""
    return DatasetInfo(
        id=dataset.id,
        geography=Geography(dataset.geography),
        source_name=dataset.source_name,
        sha256=dataset.sha256,
        feature_count=dataset.feature_count,
        repaired_count=dataset.repaired_count,
        imported_at=dataset.imported_at,
        source_url=dataset.source_url,
        source_crs=dataset.source_crs,
        member=dataset.member,
        state=dataset.state,
    )


def find_dataset_by_sha(session: Session, sha256: str, member: str = "") -> DatasetInfo | None:
    """The dataset imported from a file with this content hash (and archive member), if any."""
    dataset = session.scalar(
        select(Dataset).where(Dataset.sha256 == sha256, Dataset.member == member)
    )
    return dataset_info(dataset) if dataset is not None else None


def get_dataset(session: Session, dataset_id: int) -> DatasetInfo | None:
    """One stored dataset, if it exists."""
    dataset = session.get(Dataset, dataset_id)
    return dataset_info(dataset) if dataset is not None else None


def add_dataset(
    session: Session, record: DatasetRecord, source_url: str | None = None
) -> DatasetInfo:
    """Store a dataset and its quartiers (the caller owns the transaction)."""
    dataset = Dataset(
        geography=str(record.geography),
        source_name=record.source_name,
        source_url=source_url,
        sha256=record.sha256,
        feature_count=len(record.rows),
        repaired_count=record.repaired_count,
        source_crs=record.source_crs,
        member=record.member,
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
            for row in record.rows
        ],
    )
    make_current(session, dataset.id)
    return dataset_info(dataset)


def make_current(session: Session, dataset_id: int) -> DatasetInfo | None:
    """Make one dataset the current one of its geography, the others previous (caller commits)."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        return None
    session.execute(
        update(Dataset)
        .where(Dataset.geography == dataset.geography, Dataset.id != dataset_id)
        .values(state="previous")
    )
    session.execute(update(Dataset).where(Dataset.id == dataset_id).values(state="current"))
    session.refresh(dataset)
    return dataset_info(dataset)


def current_datasets(session: Session) -> list[DatasetInfo]:
    """The dataset in use for each geography: the one marked current."""
    query = select(Dataset).where(Dataset.state == "current").order_by(Dataset.geography)
    return [dataset_info(d) for d in session.scalars(query)]


def all_datasets(session: Session) -> list[DatasetInfo]:
    """Every imported dataset, newest first."""
    return [dataset_info(d) for d in session.scalars(select(Dataset).order_by(Dataset.id.desc()))]


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def dataset_quartiers(session: Session, dataset_id: int) -> list[QpvSource]:
    """The quartiers of one dataset, ordered by code, as the index builder takes them."""
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
    return [
        QpvSource(
            QpvInfo(
                code=code,
                name=name,
                departement=departement,
                territory=territory,
                communes=_split(communes),
                insee_codes=_split(insee_codes),
            ),
            geom,
        )
        for code, name, departement, territory, communes, insee_codes, geom in rows
    ]


def grid_payload(session: Session, dataset_id: int, grid_format: int) -> bytes | None:
    """The cached membership grid of a dataset, if one of this format is stored."""
    grid = session.get(QpvGrid, dataset_id)
    return grid.payload if grid is not None and grid.format == grid_format else None


def save_grid(session: Session, dataset_id: int, grid_format: int, payload: bytes) -> None:
    """Store (or replace) the membership grid of a dataset."""
    session.merge(QpvGrid(dataset_id=dataset_id, format=grid_format, payload=payload))
