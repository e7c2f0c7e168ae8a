"""The gap analysis: QPV vs hors-QPV per group and overall, with intervals and suppression."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from app.errors import MissingColumns
from app.stats import cells, intervals, sides
from app.stats.cells import CLASSES, HORS_QPV, QPV, UNCERTAIN, Groups
from app.stats.indicators import Analysis, BinaryRate, CategoricalShares, RatioOfSums
from app.stats.sides import Scenario
from app.stats.suppression import Suppression, suppress

SIDE_NAMES = ("qpv", "hors_qpv", "incertain")


@dataclass(frozen=True, slots=True)
class Measures:
    """Per (group, class) sums: records, missing outcomes, positives per category, etc."""

    n: NDArray[np.float64]  # (group, class) records with an outcome
    missing: NDArray[np.float64]  # (group, class) records without an outcome
    x: NDArray[np.float64]  # (group, class, category) positives; ratio: numerator sums
    den: NDArray[np.float64] | None  # (group, class) denominator sums (ratio of sums)
    ref: NDArray[np.float64] | None  # (group, class) sums of the reference column
    categories: list[str]


@dataclass(frozen=True, slots=True)
class Rows:
    """The input rows as the analysis reads them: table, cell and class of each row, groups."""

    frame: pd.DataFrame
    cell: NDArray[np.int64]
    klass: NDArray[np.int64]
    grouping: Groups


@dataclass(slots=True)
class GapReport:
    """Everything the tables and the report show; plain data, no formatting."""

    analysis: Analysis
    table: pd.DataFrame  # one line per group (x category): counts, values, gap, CI, p
    sensitivity: pd.DataFrame  # one line per group x category x scenario
    statuses: pd.DataFrame  # records per tagging status over the whole input
    suppression: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def analyse(
    frame: pd.DataFrame, analysis: Analysis, provenance: dict[str, Any] | None = None
) -> GapReport:
    """Compute the gap table, the sensitivity table and the suppression for a tagged table."""
    if sides.STATUS_COLUMN not in frame:
        raise MissingColumns(
            f"column {sides.STATUS_COLUMN!r} not in the input: tag the file first "
            "(qpv batch) or give a raw file with its address or coordinate columns",
            columns=[sides.STATUS_COLUMN],
        )
    analysis.check(list(frame.columns))
    klass = cells.row_classes(frame)
    cell, cell_keys = cells.cell_ids(frame, analysis.by)
    grouping = cells.groups(cell_keys, analysis.by)
    measures = _measures(frame, analysis, cell, klass, len(cell_keys), grouping)
    rows = Rows(frame, cell, klass, grouping)
    main = _table(measures, rows, analysis, Scenario.EXCLUDED)
    hidden = _suppression(measures, grouping, analysis.threshold)
    table = _publish(main, hidden, len(measures.categories))
    sensitivity = _sensitivity(measures, rows, analysis, hidden)
    statuses = _statuses(klass, analysis.threshold)
    report = GapReport(
        analysis, table, sensitivity, statuses, _summary(hidden, grouping, analysis.threshold)
    )
    report.provenance = dict(provenance or {})
    report.notes.append(
        f"{int(measures.missing.sum())} ligne(s) sans valeur de l'indicateur, non comptées"
    )
    return report


def _measures(
    frame: pd.DataFrame,
    analysis: Analysis,
    cell: NDArray[np.int64],
    klass: NDArray[np.int64],
    n_cells: int,
    grouping: Groups,
) -> Measures:
    ind = analysis.indicator
    den = ref = None
    if isinstance(ind, BinaryRate):
        y = ind.outcome(frame)
        has = ~np.isnan(y)
        xs = [cells.accumulate(cell[has], klass[has], n_cells, y[has])]
        categories = [ind.column]
        if isinstance(ind.reference, str):
            r = _reference_column(frame, ind.reference)
            ref = cells.per_group(
                cells.accumulate(cell[has], klass[has], n_cells, r[has]), grouping
            )
    elif isinstance(ind, CategoricalShares):
        categories, codes = ind.categories(frame)
        has = codes >= 0
        xs = [
            cells.accumulate(cell[has], klass[has], n_cells, (codes[has] == c).astype(float))
            for c in range(len(categories))
        ]
    else:
        num, dens = ind.values(frame)
        has = ~np.isnan(num) & ~np.isnan(dens)
        xs = [cells.accumulate(cell[has], klass[has], n_cells, num[has])]
        den = cells.per_group(cells.accumulate(cell[has], klass[has], n_cells, dens[has]), grouping)
        categories = [f"{ind.numerator}/{ind.denominator}"]
    n = cells.accumulate(cell[has], klass[has], n_cells)
    missing = cells.accumulate(cell[~has], klass[~has], n_cells)
    x = np.stack([cells.per_group(v, grouping) for v in xs], axis=-1)
    return Measures(
        cells.per_group(n, grouping), cells.per_group(missing, grouping), x, den, ref, categories
    )


def _reference_column(frame: pd.DataFrame, column: str) -> NDArray[np.float64]:
    from app.stats.indicators import _numbers

    values = _numbers(frame, column)
    values = np.where(values > 1, values / 100, values)  # 62 and 0.62 both mean 62 %
    return values


def _table(m: Measures, rows: Rows, analysis: Analysis, scenario: Scenario) -> pd.DataFrame:
    """One line per (group, category) under a scenario, nothing suppressed yet."""
    alpha = 1 - analysis.confidence
    n = cells.by_side(m.n, scenario)  # (group, side)
    x = cells.by_side(m.x, scenario)  # (group, side, category)
    lines = []
    for c, category in enumerate(m.categories):
        part = rows.grouping.keys.copy()
        part.insert(len(part.columns), "categorie", category)
        part["n_qpv"], part["n_hors_qpv"] = n[:, QPV], n[:, HORS_QPV]
        part["n_incertain"] = cells.by_side(m.n, Scenario.EXCLUDED)[:, UNCERTAIN]
        if m.den is None:
            _rates(part, x[:, :, c], n, alpha)
            _reference(part, x[:, :, c], n, m, scenario, analysis, alpha)
        else:
            den = cells.by_side(m.den, scenario)
            _ratios(part, x[:, :, c], den, rows, analysis, scenario)
        lines.append(part)
    return pd.concat(lines, ignore_index=True)


def _rates(
    part: pd.DataFrame, x: NDArray[np.float64], n: NDArray[np.float64], alpha: float
) -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        part["x_qpv"], part["x_hors_qpv"] = x[:, QPV], x[:, HORS_QPV]
        part["valeur_qpv"] = x[:, QPV] / n[:, QPV]
        part["valeur_hors_qpv"] = x[:, HORS_QPV] / n[:, HORS_QPV]
    stat = intervals.two_proportions(x[:, QPV], n[:, QPV], x[:, HORS_QPV], n[:, HORS_QPV], alpha)
    # Gaps of rates in percentage points; ratios as they are.
    part["ecart"], part["ecart_bas"], part["ecart_haut"] = (
        100 * stat["diff"],
        100 * stat["low"],
        100 * stat["high"],
    )
    part["rapport"], part["rapport_bas"], part["rapport_haut"] = (
        stat["ratio"],
        stat["rlow"],
        stat["rhigh"],
    )
    part["p_valeur"] = stat["p"]


def _reference(
    part: pd.DataFrame,
    x: NDArray[np.float64],
    n: NDArray[np.float64],
    m: Measures,
    scenario: Scenario,
    analysis: Analysis,
    alpha: float,
) -> None:
    ref = analysis.indicator.reference
    if ref is None:
        return
    for side, name in ((QPV, "qpv"), (HORS_QPV, "hors_qpv")):
        if m.ref is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = cells.by_side(m.ref, scenario)[:, side] / n[:, side]
        else:
            rate = np.full(len(n), float(ref))
        stat = intervals.against_reference(x[:, side], n[:, side], rate, alpha)
        part[f"reference_{name}"] = rate
        part[f"ecart_reference_{name}"] = 100 * stat["diff"]
        part[f"ecart_reference_{name}_bas"] = 100 * stat["low"]
        part[f"ecart_reference_{name}_haut"] = 100 * stat["high"]
        part[f"p_valeur_reference_{name}"] = stat["p"]


def _ratios(
    part: pd.DataFrame,
    num: NDArray[np.float64],
    den: NDArray[np.float64],
    rows: Rows,
    analysis: Analysis,
    scenario: Scenario,
) -> None:
    ind = analysis.indicator
    assert isinstance(ind, RatioOfSums)
    with np.errstate(divide="ignore", invalid="ignore"):
        part["x_qpv"], part["x_hors_qpv"] = num[:, QPV], num[:, HORS_QPV]
        part["denominateur_qpv"], part["denominateur_hors_qpv"] = den[:, QPV], den[:, HORS_QPV]
        part["valeur_qpv"] = num[:, QPV] / den[:, QPV]
        part["valeur_hors_qpv"] = num[:, HORS_QPV] / den[:, HORS_QPV]
    part["ecart"] = part["valeur_qpv"] - part["valeur_hors_qpv"]
    part["rapport"] = part["valeur_qpv"] / part["valeur_hors_qpv"]
    for column in ("ecart_bas", "ecart_haut", "rapport_bas", "rapport_haut", "p_valeur"):
        part[column] = np.nan
    if scenario is not Scenario.EXCLUDED:
        return  # the sensitivity table shows the values; the bootstrap is for the main table
    numerator, denominator = ind.values(rows.frame)
    side = cells.side_matrix(scenario).argmax(axis=1)[rows.klass]
    usable = ~np.isnan(numerator) & ~np.isnan(denominator)
    for g in range(len(part)):
        members = _rows_of_group(g, rows.grouping, rows.cell)
        picks = [members[(side[members] == s) & usable[members]] for s in (QPV, HORS_QPV)]
        bounds = intervals.bootstrap_ratio_gap(
            numerator[picks[0]],
            denominator[picks[0]],
            numerator[picks[1]],
            denominator[picks[1]],
            1 - analysis.confidence,
            ind.resamples,
            ind.seed,
        )
        part.loc[g, ["ecart_bas", "ecart_haut", "rapport_bas", "rapport_haut"]] = bounds


def _rows_of_group(g: int, grouping: Groups, cell: NDArray[np.int64]) -> NDArray[np.int64]:
    for of_cell in grouping.of_cell:
        members = np.flatnonzero(of_cell == g)
        if members.size:
            return np.flatnonzero(np.isin(cell, members))
    return np.zeros(0, dtype=np.int64)


def _suppression(m: Measures, grouping: Groups, threshold: int) -> Suppression:
    """Suppress on records per (group, side): QPV, hors-QPV and uncertain."""
    counts = cells.by_side(m.n, Scenario.EXCLUDED)
    return suppress(counts, grouping.parents, threshold)


VALUE_COLUMNS_QPV = ("n_qpv", "x_qpv", "valeur_qpv", "denominateur_qpv")
VALUE_COLUMNS_HORS = ("n_hors_qpv", "x_hors_qpv", "valeur_hors_qpv", "denominateur_hors_qpv")


def _publish(table: pd.DataFrame, hidden: Suppression, n_categories: int) -> pd.DataFrame:
    """Blank every hidden value, and every gap that uses one, with the reason."""
    table = table.copy()
    per_side = np.tile(hidden.hidden, (n_categories, 1))
    primary = np.tile(hidden.primary, (n_categories, 1))
    for side, columns in (
        (QPV, VALUE_COLUMNS_QPV),
        (HORS_QPV, VALUE_COLUMNS_HORS),
        (UNCERTAIN, ("n_incertain",)),
    ):
        mask = per_side[:, side]
        for column in columns:
            if column in table:
                table.loc[mask, column] = np.nan
        for column in [
            c for c in table.columns if c.endswith(f"_{SIDE_NAMES[side]}") and "reference" in c
        ]:
            table.loc[mask, column] = np.nan
    gap_hidden = per_side[:, QPV] | per_side[:, HORS_QPV]
    for column in (
        "ecart",
        "ecart_bas",
        "ecart_haut",
        "rapport",
        "rapport_bas",
        "rapport_haut",
        "p_valeur",
    ):
        table.loc[gap_hidden, column] = np.nan
    reasons = []
    for row_primary, row_hidden in zip(primary, per_side, strict=True):
        parts = []
        for side in range(3):
            if row_primary[side]:
                parts.append(f"{SIDE_NAMES[side]}: moins de seuil")
            elif row_hidden[side]:
                parts.append(f"{SIDE_NAMES[side]}: secondaire")
        reasons.append("; ".join(parts))
    table["secret"] = reasons
    return table


def _sensitivity(m: Measures, rows: Rows, analysis: Analysis, hidden: Suppression) -> pd.DataFrame:
    """Each gap under each scenario; a line is hidden when any side of its group is, since
    comparing scenarios would give the hidden uncertain rows away."""
    keep = [
        "level",
        *analysis.by,
        "categorie",
        "n_qpv",
        "n_hors_qpv",
        "valeur_qpv",
        "valeur_hors_qpv",
        "ecart",
        "ecart_bas",
        "ecart_haut",
    ]
    frames = []
    group_hidden = np.tile(hidden.hidden.any(axis=1), len(m.categories))
    for scenario in Scenario:
        t = _table(m, rows, analysis, scenario)[keep]
        t.insert(len(analysis.by) + 2, "scenario", str(scenario))
        t.loc[group_hidden, keep[len(analysis.by) + 2 :]] = np.nan
        t["secret"] = np.where(group_hidden, "groupe soumis au secret", "")
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def _statuses(klass: NDArray[np.int64], threshold: int) -> pd.DataFrame:
    """Records per tagging status over the whole input; small counts hidden (with one more,
    the smallest, when a single one is, since the total is the file's row count)."""
    counts = np.bincount(klass, minlength=len(CLASSES)).astype(np.float64)
    hidden = (counts > 0) & (counts < threshold)
    if hidden.sum() == 1:
        others = [i for i in range(len(CLASSES)) if not hidden[i] and counts[i] > 0]
        if others:
            hidden[min(others, key=lambda i: counts[i])] = True
    side = cells.side_matrix(Scenario.EXCLUDED).argmax(axis=1)
    return pd.DataFrame(
        {
            "statut": CLASSES,
            "compte_comme": [SIDE_NAMES[s] for s in side],
            "lignes": np.where(hidden, np.nan, counts),
            "secret": np.where(hidden, "moins de seuil ou secondaire", ""),
        }
    )


def _summary(hidden: Suppression, grouping: Groups, threshold: int) -> dict[str, Any]:
    return {
        "seuil": threshold,
        "cellules": int(hidden.primary.size),
        "primaires": int(hidden.primary.sum()),
        "secondaires": int(hidden.secondary.sum()),
        "regle": (
            f"une cellule (groupe x côté : QPV, hors QPV, incertain) de 1 à {threshold - 1} "
            "enregistrements n'est pas publiée (secret primaire) ; quand un total publié "
            "permettrait de la retrouver par soustraction, la plus petite autre cellule non "
            "vide de la même ligne est masquée aussi (secret secondaire)"
        ),
    }
