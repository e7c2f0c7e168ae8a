"""French territories that have QPV, each with the metric CRS used for its distances."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pyproj import Transformer

from app.codes import METRO_DEPARTEMENTS
from app.errors import UnknownDepartement


@dataclass(frozen=True, slots=True)
class Territory:
    """A territory with its own metric CRS and the QPV département codes it holds."""

    key: str
    name: str
    epsg: int
    overseas: bool
    departements: frozenset[str]
    # lon_min, lat_min, lon_max, lat_max: generous, for finding a point's territory
    bbox: tuple[float, float, float, float]

    def contains_lonlat(self, lon: float, lat: float) -> bool:
        """Whether the point lies in this territory's bounding box."""
        x0, y0, x1, y1 = self.bbox
        return x0 <= lon <= x1 and y0 <= lat <= y1

    def to_metric(self) -> Transformer:
        """WGS84 lon/lat -> this territory's metric CRS."""
        return transformer(4326, self.epsg)

    def from_metric(self) -> Transformer:
        """This territory's metric CRS -> WGS84 lon/lat."""
        return transformer(self.epsg, 4326)


@cache
def transformer(source: int, target: int) -> Transformer:
    """A cached lon/lat-ordered transformer between two EPSG codes."""
    return Transformer.from_crs(source, target, always_xy=True)


TERRITORIES: tuple[Territory, ...] = (
    Territory(
        "hexagone", "Hexagone et Corse", 2154, False, METRO_DEPARTEMENTS, (-5.8, 41.2, 10.0, 51.6)
    ),
    Territory(
        "antilles",
        "Guadeloupe, Martinique, Saint-Martin",
        5490,
        True,
        frozenset({"971", "972", "977", "978"}),
        (-63.3, 14.2, -60.7, 18.2),
    ),
    Territory("guyane", "Guyane", 2972, True, frozenset({"973"}), (-54.7, 2.0, -51.5, 6.0)),
    Territory("reunion", "La Réunion", 2975, True, frozenset({"974"}), (55.1, -21.5, 56.0, -20.8)),
    Territory("mayotte", "Mayotte", 4471, True, frozenset({"976"}), (44.9, -13.1, 45.4, -12.5)),
    Territory(
        "polynesie",
        "Polynésie française",
        3297,
        True,
        frozenset({"987"}),
        (-155.0, -28.0, -134.0, -7.0),
    ),
)
TERRITORY_BY_KEY = {t.key: t for t in TERRITORIES}
_BY_DEPT = {d: t for t in TERRITORIES for d in t.departements}


def territory_of_departement(dept: str) -> Territory:
    """The territory a département code ("93", "2A", "974") belongs to."""
    try:
        return _BY_DEPT[dept]
    except KeyError:
        raise UnknownDepartement(
            f"département {dept} has no QPV territory", departement=dept
        ) from None


def territory_of_point(lon: float, lat: float) -> Territory | None:
    """The territory whose box holds the point, or None outside every QPV territory."""
    for territory in TERRITORIES:
        if territory.contains_lonlat(lon, lat):
            return territory
    return None


# The metric CRSs accepted for x/y input: each territory's, and the UTM 20N of the 2015 files.
METRIC_EPSGS = frozenset({t.epsg for t in TERRITORIES} | {32620})
