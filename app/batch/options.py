"""What a batch is asked: which columns to read, which geography, what to write."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from app.errors import InvalidInput, echo
from app.geocoding.adresse import ADRESSE_COLUMNS
from app.spatial.geography import Geography, geography_in_force
from app.spatial.territories import TERRITORY_BY_KEY

# Appended to every input row, in this order (``result_columns`` picks a subset).
QPV_COLUMNS = (
    "qpv_status",
    "qpv_code",
    "qpv_name",
    "qpv_distance_m",
    "qpv_geography",
    "qpv_reason",
)
GEOCODING_COLUMNS = (
    "latitude",
    "longitude",
    "result_label",
    "result_score",
    "result_type",
    "result_citycode",
    "result_postcode",
)
RESULT_COLUMNS = QPV_COLUMNS + GEOCODING_COLUMNS
# Also accepted by ``result_columns``: API Adresse's own columns (result_id, result_status...).
KNOWN_COLUMNS = tuple(dict.fromkeys(RESULT_COLUMNS + ADRESSE_COLUMNS))
DELIMITERS = (";", ",", "\t", "|")


class OutputFormat(StrEnum):
    """Formats a batch reads (csv, xlsx) and writes (all four)."""

    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"
    GEOJSON = "geojson"


@dataclass(frozen=True, slots=True)
class TagOptions:
    """How to read an input file and what to write; ``None`` means detected or default."""

    columns: tuple[str, ...] = ()  # joined with spaces into the address text
    postcode: str | None = None
    citycode: str | None = None
    lat: str | None = None  # decimal point or decimal comma
    lon: str | None = None
    x: str | None = None  # Lambert-93 (EPSG:2154), metres
    y: str | None = None
    geography: Geography | None = None
    as_of: date | None = None
    provider: str | None = None
    result_columns: tuple[str, ...] | None = None  # None: every RESULT_COLUMNS
    delimiter: str | None = None  # CSV input; None: detected
    encoding: str | None = None  # CSV input; None: detected (UTF-8, BOM, Windows-1252)
    output_format: OutputFormat | None = None  # None: the input's format
    distances: bool = False  # qpv_distance_m for every row (costs ~15 µs a row)
    near: tuple[str, str] | None = None  # (lat, lon) columns of a point to prefer results near
    reverse: bool = False  # rows with coordinates also get their nearest address (result_*)

    def check(self) -> TagOptions:
        """Refuse contradictory or malformed options; InvalidInput names the parameter."""
        if self.geography is not None and self.as_of is not None:
            raise invalid("as_of", "give either geography or as_of, not both")
        for a, b in (("lat", "lon"), ("lon", "lat"), ("x", "y"), ("y", "x")):
            if getattr(self, a) and not getattr(self, b):
                raise invalid(b, f"{a}= names a column, so {b}= must name one too")
        if self.lat and self.x:
            raise invalid("x", "give lat/lon or x/y, not both")
        if not (self.columns or self.postcode or self.citycode or self.has_coordinates):
            raise invalid(
                "columns",
                "name the address columns (columns=, postcode=, citycode=) or the coordinate "
                "columns (lat= and lon=, or x= and y=)",
            )
        unknown = sorted(set(self.result_columns or ()) - set(KNOWN_COLUMNS))
        if unknown:
            raise invalid(
                "result_columns",
                f"unknown result column {echo(unknown[0])}; "
                f"choose among {', '.join(KNOWN_COLUMNS)}",
            )
        if self.delimiter is not None and self.delimiter not in DELIMITERS:
            raise invalid("delimiter", "must be one of ; , | or a tab")
        if self.as_of is not None:
            geography_in_force(self.as_of, TERRITORY_BY_KEY["hexagone"])
        return self

    @property
    def needs_geocoding(self) -> bool:
        """True when rows are placed from an address rather than coordinates."""
        return bool(self.columns or self.postcode or self.citycode) and not self.has_coordinates

    @property
    def has_coordinates(self) -> bool:
        """True when rows carry their own coordinates (lat/lon or x/y)."""
        return bool(self.lat or self.lon or self.x or self.y)

    @property
    def output_columns(self) -> tuple[str, ...]:
        """The result columns appended to every row, in order."""
        return self.result_columns if self.result_columns is not None else RESULT_COLUMNS

    def with_(self, **changes: Any) -> TagOptions:
        """A copy with some fields changed."""
        return replace(self, **changes)


def invalid(parameter: str, detail: str) -> InvalidInput:
    """An InvalidInput naming the option at fault."""
    return InvalidInput(
        f"{parameter}: {detail}",
        parameter=parameter,
        errors=[{"parameter": parameter, "message": detail}],
    )
