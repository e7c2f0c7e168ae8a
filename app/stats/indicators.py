"""Indicator definitions: what is measured on each row, and how its values are read.

- ``BinaryRate``: share of rows whose outcome is positive (1/0, oui/non, admis/refusé...).
- ``CategoricalShares``: share of each category of a column (type of offer, PCS...).
- ``RatioOfSums``: sum of a numerator over sum of a denominator (pupils per teacher).
Any of them may carry a ``reference``: a rate given as a number, or a column holding each
row's reference rate (the académie's passage rate), to compare each side with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from app.errors import InvalidInput, MissingColumns, UnexpectedValues
from app.folding import fold
from app.stats.values import coded

# Compared after folding (case, accents, punctuation): "Refusé", "refuse" and "REFUSE" match.
DEFAULT_POSITIVE = ("1", "1.0", "true", "vrai", "oui", "o", "yes", "y", "admis", "admise", "reçu")
DEFAULT_NEGATIVE = (
    "0",
    "0.0",
    "false",
    "faux",
    "non",
    "n",
    "no",
    "refusé",
    "refusée",
    "non admis",
    "non admise",
    "ajourné",
    "ajournée",
)


@dataclass(frozen=True, slots=True)
class BinaryRate:
    """Share of rows whose ``column`` is one of the positive values."""

    column: str
    positive: tuple[str, ...] = ()  # empty: the usual spellings of yes/1/true/admis
    negative: tuple[str, ...] = ()  # empty: the usual spellings of no/0/false/refusé
    reference: float | str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Input columns this indicator reads."""
        ref = (self.reference,) if isinstance(self.reference, str) else ()
        return (self.column, *ref)

    def outcome(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """1.0 positive, 0.0 negative, NaN missing; an unexpected value is an error naming it."""
        positives = self.positive or DEFAULT_POSITIVE
        negatives = self.negative or DEFAULT_NEGATIVE
        positive = {fold(v) for v in positives}
        negative = {fold(v) for v in negatives} - positive
        column = coded(frame[self.column])
        meaning = np.full(len(column.values), np.nan)
        unexpected = []
        for i, raw in enumerate(column.values):
            key = fold(raw)
            if key in positive:
                meaning[i] = 1.0
            elif key in negative:
                meaning[i] = 0.0
            else:
                unexpected.append(raw)
        if unexpected:
            raise UnexpectedValues(
                f"outcome column {self.column!r} has values that are neither positive "
                f"({', '.join(positives)}) nor negative ({', '.join(negatives)}): "
                f"{', '.join(repr(v) for v in unexpected[:10])}"
                + (f" and {len(unexpected) - 10} more" if len(unexpected) > 10 else "")
                + "; name the positive values (--positive / positive=) and, if need be, the "
                "negative ones (--negative / negative=)",
                column=self.column,
                values=unexpected[:20],
            )
        return np.asarray(column.lookup(meaning, np.nan), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class CategoricalShares:
    """Share of each category of ``column``; empty cells are missing, not a category."""

    column: str
    reference: None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Input columns this indicator reads."""
        return (self.column,)

    def categories(self, frame: pd.DataFrame) -> tuple[list[str], NDArray[np.int32]]:
        """The sorted categories and each row's position among them (-1 missing)."""
        column = coded(frame[self.column])
        return column.values, column.codes.astype(np.int32)


@dataclass(frozen=True, slots=True)
class RatioOfSums:
    """Sum of ``numerator`` over sum of ``denominator`` in each cell (pupils per teacher)."""

    numerator: str
    denominator: str
    resamples: int = 2000
    seed: int = 0
    reference: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Input columns this indicator reads."""
        return (self.numerator, self.denominator)

    def values(self, frame: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Numerator and denominator as numbers (decimal commas accepted); NaN missing."""
        return _numbers(frame, self.numerator), _numbers(frame, self.denominator)


Indicator = BinaryRate | CategoricalShares | RatioOfSums


@dataclass(frozen=True, slots=True)
class Analysis:
    """An indicator, the grouping columns and the publication rules."""

    indicator: Indicator
    by: tuple[str, ...] = ()
    threshold: int = 11  # cells with fewer records are suppressed
    confidence: float = 0.95
    extra_columns: tuple[str, ...] = field(default=())

    def required_columns(self) -> tuple[str, ...]:
        """Every column the analysis reads besides the tagging columns."""
        return tuple(dict.fromkeys((*self.indicator.columns, *self.by, *self.extra_columns)))

    def check(self, columns: list[str]) -> None:
        """Fail with the names of any column the input lacks, and of bad settings."""
        missing = [c for c in self.required_columns() if c not in columns]
        if missing:
            raise MissingColumns(
                f"column(s) not in the input: {', '.join(repr(c) for c in missing)}; "
                f"the input has {', '.join(repr(c) for c in columns[:40])}",
                columns=missing,
            )
        if self.threshold < 1:
            raise InvalidInput(f"threshold must be at least 1, not {self.threshold}")
        if not 0.5 <= self.confidence < 1:
            raise InvalidInput(f"confidence must be in [0.5, 1), not {self.confidence}")
        ref = self.indicator.reference
        if isinstance(ref, float) and not 0 <= ref <= 1:
            raise InvalidInput(f"reference rate must be between 0 and 1, not {ref}")


def _numbers(frame: pd.DataFrame, column: str) -> NDArray[np.float64]:
    values = coded(frame[column])
    numbers = pd.to_numeric(
        pd.Series([v.replace(",", ".") for v in values.values], dtype=object), errors="coerce"
    ).to_numpy(dtype=np.float64)
    bad = [v for v, n in zip(values.values, numbers, strict=True) if np.isnan(n)]
    if bad:
        raise UnexpectedValues(
            f"column {column!r} has values that are not numbers: "
            f"{', '.join(repr(v) for v in bad[:10])}",
            column=column,
            values=bad[:20],
        )
    return np.asarray(values.lookup(numbers, np.nan), dtype=np.float64)
