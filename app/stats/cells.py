"""Counts per cell of the ``by`` columns and per tagging class, then per published group.

Everything a gap needs is additive (records, positives, sums), so the rows are read once into
small arrays indexed by (cell, class); margins, the overall line and every sensitivity
scenario are sums of those arrays, never a second pass over the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from app.stats import sides
from app.stats.sides import HORS_QPV, QPV, UNCERTAIN, Scenario
from app.stats.values import coded

MISSING_GROUP = "(non renseigné)"
TOTAL = "(ensemble)"
# Tagging classes: the statuses, with near_boundary split by the side the point fell on.
CLASSES = (
    "in",
    "out",
    "commune_without_qpv",
    "near_boundary_qpv",
    "near_boundary_hors_qpv",
    *sides.UNCERTAIN_STATUSES[1:],
)
K = len(CLASSES)
_NEAR_STATUS = sides.KNOWN_STATUSES.index(sides.NEAR_BOUNDARY)
_NEAR_QPV, _NEAR_HORS = CLASSES.index("near_boundary_qpv"), CLASSES.index("near_boundary_hors_qpv")


def row_classes(frame: pd.DataFrame) -> NDArray[np.int64]:
    """Each row's position in CLASSES."""
    codes = sides.status_codes(frame[sides.STATUS_COLUMN]).astype(np.int64)
    near = codes == _NEAR_STATUS
    out = np.where(codes > _NEAR_STATUS, codes + 1, codes)
    out[near] = np.where(sides.has_code(frame)[near], _NEAR_QPV, _NEAR_HORS)
    return out


def side_matrix(scenario: Scenario) -> NDArray[np.float64]:
    """One-hot (class x side) matrix: which side each class counts on under the scenario."""
    status_of_class = [
        sides.KNOWN_STATUSES.index(c if not c.startswith("near_boundary") else "near_boundary")
        for c in CLASSES
    ]
    has_code = np.array([c == "near_boundary_qpv" for c in CLASSES])
    side = sides.sides(np.array(status_of_class, dtype=np.int8), has_code, scenario)
    matrix = np.zeros((K, 3))
    matrix[np.arange(K), side] = 1.0
    return matrix


@dataclass(frozen=True, slots=True)
class Groups:
    """The published groups: overall, each ``by`` column's margins (2+ columns), the cells."""

    keys: pd.DataFrame  # one row per group: level, then each by column (TOTAL in margins)
    of_cell: list[NDArray[np.int64]]  # per level, the group of each cell
    offsets: list[int]  # first group index of each level
    parents: list[tuple[int, list[int]]]  # (total group, groups that partition it)


def cell_ids(frame: pd.DataFrame, by: tuple[str, ...]) -> tuple[NDArray[np.int64], pd.DataFrame]:
    """Each row's cell and the by-values of each cell (missing values are a group of their own)."""
    if not by:
        return np.zeros(len(frame), dtype=np.int64), pd.DataFrame(index=[0])
    codes, labels = [], []
    for column in by:
        column_codes = coded(frame[column])
        code = column_codes.codes.copy()
        code[code < 0] = len(column_codes.values)  # missing values: a group of their own
        codes.append(code)
        labels.append(np.array([*column_codes.values, MISSING_GROUP], dtype=object))
    combined = np.zeros(len(frame), dtype=np.int64)
    for code, label in zip(codes, labels, strict=True):
        combined = combined * len(label) + code
    uniq, cell = np.unique(combined, return_inverse=True)
    keys: dict[str, NDArray[np.object_]] = {}
    rest = uniq
    for column, label in reversed(list(zip(by, labels, strict=True))):
        keys[column] = label[rest % len(label)]
        rest = rest // len(label)
    return cell.astype(np.int64), pd.DataFrame({c: keys[c] for c in by})


def groups(cell_keys: pd.DataFrame, by: tuple[str, ...]) -> Groups:
    """Overall, margins of each by column (when there are two or more), then the cells."""
    n_cells = len(cell_keys)
    frames = [pd.DataFrame({"level": ["ensemble"], **{c: [TOTAL] for c in by}})]
    of_cell = [np.zeros(n_cells, dtype=np.int64)]
    offsets, parents = [0], []
    start = 1
    levels: list[tuple[str, ...]] = [(c,) for c in by] if len(by) >= 2 else []
    levels += [by] if by else []
    for level in levels:
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(cell_keys[list(level)]), sort=True)
        keys = pd.DataFrame(list(uniques), columns=list(level))
        for c in by:
            if c not in level:
                keys[c] = TOTAL
        keys.insert(0, "level", "cellule" if level == by else f"marge {level[0]}")
        frames.append(keys[["level", *by]])
        of_cell.append(codes.astype(np.int64) + start)
        offsets.append(start)
        start += len(keys)
    # Lines a reader could add up: overall = sum of each level; a margin = sum of its cells.
    for groups_of_cell in of_cell[1:]:
        parents.append((0, sorted(set(groups_of_cell.tolist()))))
    if len(by) >= 2:
        for margin in of_cell[1:-1]:
            for g in sorted(set(margin.tolist())):
                parents.append((g, sorted(set(of_cell[-1][margin == g].tolist()))))
    return Groups(pd.concat(frames, ignore_index=True), of_cell, offsets, parents)


def per_group(values: NDArray[np.float64], grouping: Groups) -> NDArray[np.float64]:
    """Sum a (cell, ...) array into a (group, ...) array over every level."""
    n_groups = len(grouping.keys)
    out = np.zeros((n_groups, *values.shape[1:]))
    for of_cell in grouping.of_cell:
        np.add.at(out, of_cell, values)
    return out


def accumulate(
    cell: NDArray[np.int64],
    klass: NDArray[np.int64],
    n_cells: int,
    weights: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """(cell, class) sums of ``weights`` (counts when None)."""
    flat = cell * K + klass
    summed = np.bincount(flat, weights=weights, minlength=n_cells * K)
    return summed.reshape(n_cells, K).astype(np.float64)


def by_side(per_class: NDArray[np.float64], scenario: Scenario) -> NDArray[np.float64]:
    """(group, class, ...) -> (group, side, ...) under a scenario; side QPV, HORS_QPV, UNCERTAIN."""
    return np.asarray(np.einsum("gk...,ks->gs...", per_class, side_matrix(scenario)), np.float64)


__all__ = ["HORS_QPV", "QPV", "UNCERTAIN"]
