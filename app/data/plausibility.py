"""Compare a QPV file with the dataset in use before it may replace it.

A file can be well formed and still wrong (another edition's extract, a truncated export,
a broken vertex, quartiers moved): what changed, and by how much, decides whether it goes
live without `--force`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely

from app.data.displacement import Displacements, displacements
from app.settings import Settings

# A degree of latitude, in kilometres: areas are compared, so a local approximation is enough.
KM_PER_DEGREE = 111.32
# Quartiers named in one line of a refusal; the count says how many more.
MAX_NAMED = 10


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """How far a new dataset may differ from the one in use (fractions), and its size bounds."""

    max_vertices: int
    max_count_change: float
    max_codes_gone: float
    max_area_change: float
    max_quartier_area_change: float
    max_centroid_shift_m: float
    max_overlap_lost: float
    max_common_shift_m: float

    @classmethod
    def of(cls, settings: Settings) -> ImportLimits:
        """The limits a service's settings give."""
        return cls(
            max_vertices=settings.import_max_vertices,
            max_count_change=settings.import_max_count_change,
            max_codes_gone=settings.import_max_codes_gone,
            max_area_change=settings.import_max_area_change,
            max_quartier_area_change=settings.import_max_quartier_area_change,
            max_centroid_shift_m=settings.import_max_centroid_shift_m,
            max_overlap_lost=settings.import_max_overlap_lost,
            max_common_shift_m=settings.import_max_common_shift_m,
        )

    @classmethod
    def default(cls) -> ImportLimits:
        """The limits of the default settings (the environment is not read)."""
        return cls.of(Settings.model_construct())


def area_km2(geom: shapely.Geometry) -> float:
    """The area of a WGS84 geometry in km², scaled at its own latitude."""
    if geom.is_empty:
        return 0.0
    lat = shapely.centroid(geom).y
    return float(shapely.area(geom)) * KM_PER_DEGREE**2 * math.cos(math.radians(lat))


def _ratio(new: float, old: float) -> float:
    """The relative change from ``old`` to ``new`` (inf from nothing to something)."""
    if old == 0:
        return 0.0 if new == 0 else math.inf
    return (new - old) / old


def _percent(ratio: float) -> str:
    return f"{ratio:+.1%}" if math.isfinite(ratio) else "new"


def _examples(codes: tuple[str, ...]) -> str:
    """The first few codes of a list, for a report that stays on one line."""
    if not codes:
        return ""
    return f" ({', '.join(codes[:3])}{', ...' if len(codes) > 3 else ''})"


@dataclass(frozen=True, slots=True)
class Changes:
    """What a new dataset changes from the one in use, and which limits it passes."""

    old_id: int
    old_count: int
    new_count: int
    gone: tuple[str, ...]
    added: tuple[str, ...]
    old_area_km2: float
    new_area_km2: float
    # (code, relative area change) of the quartiers in both, largest change first.
    area_changes: tuple[tuple[str, float], ...]
    displacements: Displacements
    exceeded: tuple[str, ...]

    def __str__(self) -> str:
        largest = ", ".join(f"{code} {_percent(r)}" for code, r in self.area_changes[:3])
        moves = ", ".join(str(move) for move in self.displacements.largest)
        return (
            f"compared with dataset {self.old_id}: {self.new_count} QPV instead of "
            f"{self.old_count} ({_percent(_ratio(self.new_count, self.old_count))}), "
            f"{len(self.gone)} codes gone{_examples(self.gone)}, "
            f"{len(self.added)} new{_examples(self.added)}, total area "
            f"{self.new_area_km2:.1f} km² instead of {self.old_area_km2:.1f} km² "
            f"({_percent(_ratio(self.new_area_km2, self.old_area_km2))})"
            + (f"; largest area changes: {largest}" if largest else "")
            + (f"; largest moves: {moves}" if moves else "")
        )

    def problems(self) -> list[str]:
        """One line per geometry problem past the limits, naming quartiers and distances."""
        lines = []
        if self.displacements.shift is not None:
            lines.append(f"{self.displacements.shift} (QPV_IMPORT_MAX_COMMON_SHIFT_M)")
        moved = self.displacements.moved
        if moved:
            named = ", ".join(str(move) for move in moved[:MAX_NAMED])
            more = f", and {len(moved) - MAX_NAMED} more" if len(moved) > MAX_NAMED else ""
            lines.append(
                f"moved quartiers ({len(moved)}): {named}{more} "
                "(QPV_IMPORT_MAX_CENTROID_SHIFT_M and QPV_IMPORT_MAX_OVERLAP_LOST)"
            )
        return lines

    def refusal(self, source_name: str) -> str:
        """Why a file is refused: the changes, then one line per geometry problem."""
        return "\n".join(
            [
                f"{source_name} differs too much from the dataset in use "
                f"({', '.join(self.exceeded)} past the limits): {self}; "
                "import it anyway with --force",
                *self.problems(),
            ]
        )


def compare(
    old_id: int,
    old: Iterable[tuple[str, shapely.Geometry]],
    new: Iterable[tuple[str, shapely.Geometry]],
    limits: ImportLimits,
) -> Changes:
    """The changes from the dataset in use (``old``) to a new one, checked against ``limits``."""
    old_geoms, new_geoms = dict(old), dict(new)
    old_areas = {code: area_km2(geom) for code, geom in old_geoms.items()}
    new_areas = {code: area_km2(geom) for code, geom in new_geoms.items()}
    common = old_areas.keys() & new_areas.keys()
    changes = sorted(
        ((code, _ratio(new_areas[code], old_areas[code])) for code in common),
        key=lambda item: (-abs(item[1]), item[0]),
    )
    changes = [(code, r) for code, r in changes if abs(r) >= 0.001]
    old_total, new_total = sum(old_areas.values()), sum(new_areas.values())
    gone = tuple(sorted(old_areas.keys() - new_areas.keys()))
    moves = displacements(
        old_geoms,
        new_geoms,
        max_centroid_shift_m=limits.max_centroid_shift_m,
        max_overlap_lost=limits.max_overlap_lost,
        max_common_shift_m=limits.max_common_shift_m,
    )
    exceeded = [
        name
        for name, value, limit in (
            ("feature count", abs(_ratio(len(new_areas), len(old_areas))), limits.max_count_change),
            ("codes gone", len(gone) / max(1, len(old_areas)), limits.max_codes_gone),
            ("total area", abs(_ratio(new_total, old_total)), limits.max_area_change),
            (
                "area of one quartier",
                max((abs(r) for _, r in changes), default=0.0),
                limits.max_quartier_area_change,
            ),
            ("geography-wide shift", float(moves.shift is not None), 0.0),
            ("quartiers moved", float(len(moves.moved)), 0.0),
        )
        if not np.isfinite(value) or value > limit
    ]
    return Changes(
        old_id=old_id,
        old_count=len(old_areas),
        new_count=len(new_areas),
        gone=gone,
        added=tuple(sorted(new_areas.keys() - old_areas.keys())),
        old_area_km2=old_total,
        new_area_km2=new_total,
        area_changes=tuple(changes),
        displacements=moves,
        exceeded=tuple(exceeded),
    )
