"""The two QPV geographies, their code formats and which one is in force when and where."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from app.codes import departement_of_padded
from app.errors import ECHO_CHARS, InvalidInput, NoGeographyInForce, echo
from app.spatial.territories import Territory


class Geography(StrEnum):
    """A QPV geography, named by the year its décret took effect in the hexagone."""

    QPV2015 = "2015"
    QPV2024 = "2024"


CODE_PATTERNS: dict[Geography, re.Pattern[str]] = {
    # QP + 3-char département (075, 02A, 974) + 3 digits
    Geography.QPV2015: re.compile(r"^QP(0(?:\d\d|2A|2B)|9[78]\d)(\d{3})$", re.ASCII),
    # QN + 3-char département + 2 digits + M, I, N or C
    Geography.QPV2024: re.compile(r"^QN(0(?:\d\d|2A|2B)|9[78]\d)(\d{2})([MINC])$", re.ASCII),
}

# (geography, first day in force, last day in force) for each side of the sea.
_HEXAGONE_PERIODS = (
    (Geography.QPV2015, date(2015, 1, 1), date(2023, 12, 31)),
    (Geography.QPV2024, date(2024, 1, 1), None),
)
_OVERSEAS_PERIODS = (
    (Geography.QPV2015, date(2015, 1, 1), date(2024, 12, 31)),
    (Geography.QPV2024, date(2025, 1, 1), None),
)


def geography_of_code(code: str) -> Geography:
    """The geography a QPV code belongs to, or InvalidInput for a malformed code."""
    for geography, pattern in CODE_PATTERNS.items():
        if pattern.match(code):
            return geography
    raise InvalidInput(
        f"{echo(code)} is not a QPV code (QPdddnnn for 2015, QNdddnnX for 2024)",
        code=code[:ECHO_CHARS],
    )


def departement_of_code(code: str) -> str:
    """The département of a QPV code: QN07511M -> 75, QP02A001 -> 2A, QN97401M -> 974."""
    return departement_of_padded(code[2:5])


def geography_in_force(on: date, territory: Territory) -> Geography:
    """The geography in force on a date in a territory (décrets 2014-1750 and 2023-1314)."""
    periods = _OVERSEAS_PERIODS if territory.overseas else _HEXAGONE_PERIODS
    for geography, start, end in periods:
        if start <= on and (end is None or on <= end):
            return geography
    raise NoGeographyInForce(
        f"no QPV geography was in force on {on.isoformat()} (QPV exist since 2015-01-01)",
        as_of=on.isoformat(),
    )
