"""Administrative divisions (``@etalab/decoupage-administratif``): imported packages, communes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base
from app.db.types import UTCDateTime


class DivisionsImport(Base):
    """One imported package and its provenance; the newest one is in use."""

    __tablename__ = "division_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_name: Mapped[str] = mapped_column(String(255))
    source_url: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    package_version: Mapped[str | None] = mapped_column(String(32))
    commune_count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Commune(Base):
    """One entry of ``communes.json``: a current, delegated or associated commune, or an
    arrondissement (a delegated commune may share its code with the current one)."""

    __tablename__ = "communes"
    __table_args__ = (Index("ix_communes_import_id_code", "import_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("division_imports.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(5))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    departement: Mapped[str] = mapped_column(String(3))
    parent: Mapped[str | None] = mapped_column(String(5))
    postcodes: Mapped[str] = mapped_column(Text, default="")  # ", "-separated
    former_codes: Mapped[str] = mapped_column(Text, default="")  # ", "-separated
