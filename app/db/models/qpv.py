"""Imported QPV datasets and their quartiers."""

from __future__ import annotations

from datetime import datetime

import shapely
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.models.base import Base
from app.db.types import Geometry, UTCDateTime


class Dataset(Base):
    """One imported file (or archive member) of one geography, with its provenance and state."""

    __tablename__ = "datasets"
    # A re-import is recognised by content and member: two members of one zip are two datasets.
    __table_args__ = (UniqueConstraint("sha256", "member", name="uq_datasets_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    geography: Mapped[str] = mapped_column(String(8), index=True)
    source_name: Mapped[str] = mapped_column(String(255))
    source_url: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    member: Mapped[str] = mapped_column(String(255), default="", server_default="")
    feature_count: Mapped[int] = mapped_column(Integer)
    repaired_count: Mapped[int] = mapped_column(Integer, default=0)
    source_crs: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "current": the one dataset of its geography the index answers from; else "previous".
    state: Mapped[str] = mapped_column(String(16), default="previous", server_default="previous")

    quartiers: Mapped[list[Qpv]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", passive_deletes=True
    )


class Qpv(Base):
    """One quartier prioritaire of one dataset; geometry in WGS84, polygonal only."""

    __tablename__ = "qpv"
    __table_args__ = (UniqueConstraint("dataset_id", "code", name="uq_qpv_dataset_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(8), index=True)
    name: Mapped[str] = mapped_column(String(255))
    departement: Mapped[str] = mapped_column(String(3), index=True)
    territory: Mapped[str] = mapped_column(String(16))
    communes: Mapped[str] = mapped_column(Text, default="")  # names, ", "-separated
    insee_codes: Mapped[str] = mapped_column(Text, default="")  # ", "-separated, may be empty
    geom: Mapped[shapely.Geometry] = mapped_column(Geometry("MULTIPOLYGON"))

    dataset: Mapped[Dataset] = relationship(back_populates="quartiers")


class QpvGrid(Base):
    """The membership grid of a dataset, serialised (``CellGrid.to_arrays`` as npz)."""

    __tablename__ = "qpv_grids"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    format: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
