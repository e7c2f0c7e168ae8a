"""Plain records the repositories take: a dataset to store and its quartier rows."""

from __future__ import annotations

from dataclasses import dataclass

import shapely

from app.spatial.geography import Geography


@dataclass(frozen=True, slots=True)
class QpvRow:
    """One quartier as read and repaired, ready to store."""

    code: str
    name: str
    departement: str
    territory: str
    communes: str  # comma-separated, as stored
    insee_codes: str  # comma-separated, as stored
    geom: shapely.MultiPolygon


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """A dataset to store: its geography, rows and provenance."""

    geography: Geography
    rows: list[QpvRow]
    sha256: str
    source_name: str
    source_crs: str
    repaired_count: int
    member: str = ""  # the archive member read, "" for a plain file
