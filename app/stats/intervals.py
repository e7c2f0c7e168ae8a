"""Intervals and tests, all from statsmodels / scipy, vectorised over the rows of a table."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

# scipy and statsmodels are imported by the functions that use them: together they take
# ~1.2 s to import, which every process importing the API (or `qpv`) would otherwise pay at
# start-up, gap analysis or not.

Array = NDArray[np.float64]


def _quiet(call: Callable[[], Any]) -> Any:
    # Degenerate rows (rates of 0 or 1 on both sides) divide by zero inside statsmodels;
    # they are handled by the callers below, not reported as warnings.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return call()


def two_proportions(x1: Array, n1: Array, x2: Array, n2: Array, alpha: float) -> dict[str, Array]:
    """Difference (Newcombe hybrid score CI), ratio (log-adjusted CI), score-test p-value."""
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    ok = (n1 > 0) & (n2 > 0)
    out = {
        k: np.full(len(n1), np.nan) for k in ("diff", "low", "high", "ratio", "rlow", "rhigh", "p")
    }
    if not ok.any():
        return out
    a, b, c, d = x1[ok], n1[ok], x2[ok], n2[ok]
    low, high = _quiet(
        lambda: confint_proportions_2indep(a, b, c, d, method="newcomb", alpha=alpha)
    )
    rlow, rhigh = _quiet(
        lambda: confint_proportions_2indep(
            a, b, c, d, compare="ratio", method="log-adjusted", alpha=alpha
        )
    )
    test = _quiet(
        lambda: test_proportions_2indep(
            a, b, c, d, method="score", compare="diff", correction=False
        )
    )
    p = np.asarray(test.pvalue, dtype=np.float64)
    # Both sides at 0 % (or both at 100 %): no evidence of any difference.
    p = np.where(np.isnan(p) & (a / b == c / d), 1.0, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["diff"][ok] = a / b - c / d
        out["ratio"][ok] = np.where(c > 0, (a / b) / (c / d), np.nan)
    out["low"][ok], out["high"][ok] = low, high
    out["rlow"][ok], out["rhigh"][ok] = rlow, rhigh
    out["p"][ok] = p
    return out


def against_reference(x: Array, n: Array, reference: Array, alpha: float) -> dict[str, Array]:
    """Rate minus a known reference rate: Wilson interval shifted by it, exact binomial p-value."""
    from scipy import stats as sps
    from statsmodels.stats.proportion import proportion_confint

    out = {k: np.full(len(n), np.nan) for k in ("diff", "low", "high", "p")}
    ok = (n > 0) & np.isfinite(reference)
    if not ok.any():
        return out
    low, high = proportion_confint(x[ok], n[ok], alpha=alpha, method="wilson")
    out["diff"][ok] = x[ok] / n[ok] - reference[ok]
    out["low"][ok] = np.asarray(low) - reference[ok]
    out["high"][ok] = np.asarray(high) - reference[ok]
    out["p"][ok] = [
        sps.binomtest(int(k), int(m), float(r)).pvalue
        for k, m, r in zip(x[ok], n[ok], reference[ok], strict=True)
    ]
    return out


def bootstrap_ratio_gap(
    num1: Array, den1: Array, num2: Array, den2: Array, alpha: float, resamples: int, seed: int
) -> tuple[float, float, float, float]:
    """Percentile bootstrap CI (rows resampled within each side) of the difference and the
    ratio of two ratios of sums; NaN when a side has fewer than two rows."""
    from scipy import stats as sps

    if len(num1) < 2 or len(num2) < 2:
        return (np.nan, np.nan, np.nan, np.nan)

    def gap(i: NDArray[np.int64], j: NDArray[np.int64], axis: int = -1) -> Array:
        r1 = num1[i].sum(axis=axis) / den1[i].sum(axis=axis)
        r2 = num2[j].sum(axis=axis) / den2[j].sum(axis=axis)
        return np.asarray(r1 - r2)

    def rel(i: NDArray[np.int64], j: NDArray[np.int64], axis: int = -1) -> Array:
        r1 = num1[i].sum(axis=axis) / den1[i].sum(axis=axis)
        r2 = num2[j].sum(axis=axis) / den2[j].sum(axis=axis)
        return np.asarray(r1 / r2)

    data = (np.arange(len(num1)), np.arange(len(num2)))
    bounds = []
    for statistic in (gap, rel):

        def run(s: Callable[..., Array] = statistic) -> Any:
            return sps.bootstrap(
                data,
                s,
                n_resamples=resamples,
                confidence_level=1 - alpha,
                method="percentile",
                vectorized=True,
                batch=100,
                rng=np.random.default_rng(seed),
            )

        ci = _quiet(run).confidence_interval
        bounds += [float(ci.low), float(ci.high)]
    return (bounds[0], bounds[1], bounds[2], bounds[3])
