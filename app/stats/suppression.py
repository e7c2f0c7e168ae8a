"""Statistical confidentiality: primary suppression of small cells, then secondary suppression.

Primary: a cell with at least one and fewer than ``threshold`` records is not published
(a cell of zero records describes nobody and stays). Secondary: the published totals form
lines (overall = sum of a level; a margin = sum of its cells); a line with exactly one
hidden member would give it away by subtraction, so the smallest other non-empty member is
hidden too, until no line has exactly one hidden member. This is the classical heuristic:
it defeats recomputation from one total, not every linear-programming attack on large
multi-way tables (interval disclosure), which needs a dedicated tool (tau-argus).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Suppression:
    """Which cells are hidden, and why."""

    primary: NDArray[np.bool_]
    secondary: NDArray[np.bool_]

    @property
    def hidden(self) -> NDArray[np.bool_]:
        """Cells not published, for either reason."""
        return self.primary | self.secondary


def suppress(
    counts: NDArray[np.float64], lines: list[tuple[int, list[int]]], threshold: int
) -> Suppression:
    """Suppression of a (group, column) table of counts whose columns are independent tables."""
    primary = (counts > 0) & (counts < threshold)
    hidden = primary.copy()
    for column in range(counts.shape[1]):
        _complete(counts[:, column], hidden[:, column], lines)
    return Suppression(primary, hidden & ~primary)


def _complete(
    counts: NDArray[np.float64], hidden: NDArray[np.bool_], lines: list[tuple[int, list[int]]]
) -> None:
    changed = True
    while changed:
        changed = False
        for total, parts in lines:
            members = [total, *parts]
            if sum(bool(hidden[m]) for m in members) != 1:
                continue
            # Prefer hiding a part over the total, and the smallest non-empty one.
            candidates = [p for p in parts if not hidden[p] and counts[p] > 0]
            if not candidates and not hidden[total] and counts[total] > 0:
                candidates = [total]
            if candidates:
                hidden[min(candidates, key=lambda p: (counts[p], p))] = True
                changed = True
