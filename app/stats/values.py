"""Columns as small integer codes over their distinct stripped values.

A 1 M-row column of a tagged file has a handful of distinct values: every reading (status,
outcome, group) is done once per distinct value, then spread to the rows by their codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Coded:
    """Each row's position in ``values`` (sorted, stripped, non-empty), -1 when empty."""

    codes: NDArray[np.int64]
    values: list[str]

    def lookup(self, table: NDArray[np.generic], missing: object) -> NDArray[np.generic]:
        """``table[code]`` for each row, ``missing`` where the row is empty."""
        out = np.empty(len(self.codes), dtype=table.dtype)
        known = self.codes >= 0
        out[known] = table[self.codes[known]]
        out[~known] = missing
        return out


def coded(series: pd.Series) -> Coded:
    """The column's distinct stripped values and each row's code."""
    cat = series if isinstance(series.dtype, pd.CategoricalDtype) else series.astype("category")
    names = np.array([str(c).strip() for c in cat.cat.categories], dtype=object)
    values = sorted({n for n in names if n})
    position = {v: i for i, v in enumerate(values)}
    mapping = np.array([position.get(n, -1) for n in names] + [-1], dtype=np.int64)
    raw = cat.cat.codes.to_numpy().astype(np.int64)
    return Coded(mapping[raw], values)  # code -1 (NaN) picks the trailing -1
