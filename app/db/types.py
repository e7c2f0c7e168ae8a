"""Column types that work on SQLite (plain WKB) and PostGIS (geometry) alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import shapely
from geoalchemy2 import Geometry as PostGISGeometry
from geoalchemy2.elements import WKBElement
from sqlalchemy import DateTime, LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class Geometry(TypeDecorator[shapely.Geometry]):
    """A shapely geometry in WGS84: PostGIS ``geometry`` on PostgreSQL, WKB bytes elsewhere."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY", srid: int = 4326) -> None:
        super().__init__()
        self.geometry_type = geometry_type
        self.srid = srid

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """PostGIS geometry column on PostgreSQL, binary elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(
                PostGISGeometry(self.geometry_type, srid=self.srid, spatial_index=False)
            )
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: shapely.Geometry | None, dialect: Dialect) -> Any:
        """Shapely -> WKB (or a WKBElement for PostGIS)."""
        if value is None:
            return None
        wkb = shapely.to_wkb(value)
        if dialect.name == "postgresql":
            return WKBElement(wkb, srid=self.srid)
        return wkb

    def process_result_value(self, value: Any, dialect: Dialect) -> shapely.Geometry | None:
        """WKB (bytes, memoryview or WKBElement) -> shapely."""
        if value is None:
            return None
        if isinstance(value, WKBElement):
            value = value.data
        return shapely.from_wkb(bytes(value))


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store in UTC."""
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
