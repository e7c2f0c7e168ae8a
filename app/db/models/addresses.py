"""BAN addresses for the offline geocoder: imported files, streets and address points."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base


class BanImport(Base):
    """One imported BAN file and its provenance; a re-import replaces the rows it brought."""

    __tablename__ = "ban_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    departements: Mapped[str] = mapped_column(Text)  # ", "-separated codes replaced
    street_count: Mapped[int] = mapped_column(Integer)
    address_count: Mapped[int] = mapped_column(Integer)
    skipped_count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BanStreet(Base):
    """One street (voie or lieu-dit) of one commune and postcode, with its summary point."""

    __tablename__ = "ban_streets"
    __table_args__ = (Index("ix_ban_streets_citycode_name_norm", "citycode", "name_norm"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    citycode: Mapped[str] = mapped_column(String(5))
    postcode: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(255))
    old_city: Mapped[str | None] = mapped_column(String(255))  # nom_ancienne_commune
    delivery_city: Mapped[str | None] = mapped_column(String(255))  # libelle_acheminement
    name: Mapped[str] = mapped_column(String(255))
    name_norm: Mapped[str] = mapped_column(String(255))
    ban_id: Mapped[str | None] = mapped_column(String(40))  # BAN street id (id prefix)
    # The address point nearest to the street's mean: always on the street, even curved.
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    address_count: Mapped[int] = mapped_column(Integer)


class BanAddress(Base):
    """One BAN address point: house number with its repetition index, on one street."""

    __tablename__ = "ban_addresses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    street_id: Mapped[int] = mapped_column(
        ForeignKey("ban_streets.id", ondelete="CASCADE"), index=True
    )
    numero: Mapped[int] = mapped_column(Integer)
    rep: Mapped[str] = mapped_column(String(16), default="")  # as published, lower case
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    ban_id: Mapped[str] = mapped_column(String(64))
