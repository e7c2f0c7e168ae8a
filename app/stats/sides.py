"""Which tagging statuses count as QPV, as hors-QPV, or as uncertain, under each scenario.

The rule, stated once: ``in`` is QPV; ``out`` and ``commune_without_qpv`` are hors-QPV; every
other status is uncertain. The main estimate leaves uncertain rows out (they are counted and
shown, never hidden); the sensitivity scenarios put them back in four ways:

- ``excluded``: uncertain rows left out (the main estimate);
- ``near_boundary_by_side``: ``near_boundary`` rows on the side they fell on (a row carries
  a ``qpv_code`` exactly when its point fell inside a QPV), the other uncertain rows left out;
- ``all_qpv`` / ``all_hors_qpv``: every uncertain row counted as QPV / as hors-QPV.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from app.errors import UnexpectedValues
from app.stats.values import coded

STATUS_COLUMN = "qpv_status"
CODE_COLUMN = "qpv_code"
QPV_STATUSES = ("in",)
HORS_QPV_STATUSES = ("out", "commune_without_qpv")
NEAR_BOUNDARY = "near_boundary"
UNCERTAIN_STATUSES = (
    NEAR_BOUNDARY,
    "street_partial",
    "ambiguous",
    "not_found",
    "geocoder_error",
    "invalid",
)
KNOWN_STATUSES = QPV_STATUSES + HORS_QPV_STATUSES + UNCERTAIN_STATUSES

# Side codes, small integers so that group-bys stay numeric.
QPV, HORS_QPV, UNCERTAIN = 0, 1, 2


class Scenario(StrEnum):
    """How uncertain rows are counted."""

    EXCLUDED = "excluded"
    NEAR_BOUNDARY_BY_SIDE = "near_boundary_by_side"
    ALL_QPV = "all_qpv"
    ALL_HORS_QPV = "all_hors_qpv"


SCENARIO_LABELS_FR = {
    Scenario.EXCLUDED: "incertains exclus (estimation principale)",
    Scenario.NEAR_BOUNDARY_BY_SIDE: "près d'une limite : du côté où le point est tombé",
    Scenario.ALL_QPV: "tous les incertains comptés en QPV",
    Scenario.ALL_HORS_QPV: "tous les incertains comptés hors QPV",
}


def status_codes(status: pd.Series) -> NDArray[np.int8]:
    """Position of each row's status in KNOWN_STATUSES; unknown statuses are an error."""
    column = coded(status)
    position = [KNOWN_STATUSES.index(v) if v in KNOWN_STATUSES else -1 for v in column.values]
    unknown = [v for v, p in zip(column.values, position, strict=True) if p < 0]
    if unknown or (column.codes < 0).any():
        unknown += ["(vide)"] if (column.codes < 0).any() else []
        raise UnexpectedValues(
            f"column {STATUS_COLUMN!r} has statuses this analysis does not know: "
            f"{_listing(list(unknown))}; expected one of {', '.join(KNOWN_STATUSES)}",
            column=STATUS_COLUMN,
            values=unknown[:20],
        )
    return np.asarray(np.array(position, dtype=np.int8)[column.codes], dtype=np.int8)


def sides(
    codes: NDArray[np.int8], has_qpv_code: NDArray[np.bool_], scenario: Scenario
) -> NDArray[np.int8]:
    """QPV, HORS_QPV or UNCERTAIN for each row, given its status position and the scenario."""
    table = np.array(
        [QPV] * len(QPV_STATUSES)
        + [HORS_QPV] * len(HORS_QPV_STATUSES)
        + [UNCERTAIN] * len(UNCERTAIN_STATUSES),
        dtype=np.int8,
    )
    side = table[codes]
    if scenario is Scenario.ALL_QPV:
        side[side == UNCERTAIN] = QPV
    elif scenario is Scenario.ALL_HORS_QPV:
        side[side == UNCERTAIN] = HORS_QPV
    elif scenario is Scenario.NEAR_BOUNDARY_BY_SIDE:
        near = codes == KNOWN_STATUSES.index(NEAR_BOUNDARY)
        side[near] = np.where(has_qpv_code[near], QPV, HORS_QPV)
    return side


def has_code(frame: pd.DataFrame) -> NDArray[np.bool_]:
    """Whether each row carries a QPV code (the side a near_boundary point fell on)."""
    if CODE_COLUMN not in frame:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray(coded(frame[CODE_COLUMN]).codes >= 0, dtype=bool)


def _listing(values: list[object], limit: int = 10) -> str:
    shown = ", ".join(repr(str(v)) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
