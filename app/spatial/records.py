"""Plain records of the spatial core: quartiers and dataset provenance.

Storage adapters (app.db, app.data) build and return these; the core never imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import shapely

from app.spatial.geography import Geography


@dataclass(frozen=True, slots=True)
class QpvInfo:
    """Descriptive attributes of one quartier."""

    code: str
    name: str
    departement: str
    territory: str
    communes: tuple[str, ...]
    insee_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """Provenance of the dataset an answer was computed from."""

    id: int
    geography: Geography
    source_name: str
    sha256: str
    feature_count: int
    repaired_count: int
    imported_at: datetime
    source_url: str | None = None
    source_crs: str | None = None
    member: str = ""  # the archive member it was read from, "" for a plain file
    state: str = "current"  # "current": the one its geography answers from; else "previous"

    @property
    def version(self) -> str:
        """A short, stable version label: the first 12 hex digits of the content hash."""
        return self.sha256[:12]


@dataclass(frozen=True, slots=True)
class QpvSource:
    """One quartier as handed to the index builder."""

    info: QpvInfo
    geom: shapely.Geometry  # WGS84, valid, polygonal
