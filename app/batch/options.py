"""What a batch is asked: which columns to read, which geography, what to write."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from app.errors import InvalidInput
from app.spatial.geography import Geography

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

    def check(self) -> TagOptions:
        """Refuse contradictory or malformed options; InvalidInput names the parameter."""
        raise NotImplementedError

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

    def with_(self, **changes: object) -> TagOptions:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def invalid(parameter: str, detail: str) -> InvalidInput:
    """An InvalidInput naming the option at fault."""
    return InvalidInput(f"{parameter}: {detail}", parameter=parameter)
