"""Intervals and tests against published values and a second library (scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from app.stats.intervals import against_reference, bootstrap_ratio_gap, two_proportions

# Newcombe R.G. (1998), "Interval estimation for the difference between independent
# proportions", Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score).
NEWCOMBE_1998 = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


def _arrays(*rows: tuple[int, int, int, int]) -> list[np.ndarray]:
    return [np.array(col, dtype=float) for col in zip(*rows, strict=True)]


def test_the_gap_interval_is_newcombes_hybrid_score_interval_of_his_1998_paper() -> None:
    x1, n1, x2, n2 = _arrays(*(counts for counts, _ in NEWCOMBE_1998))
    got = two_proportions(x1, n1, x2, n2, alpha=0.05)
    expected = np.array([bounds for _, bounds in NEWCOMBE_1998])
    np.testing.assert_allclose(got["low"], expected[:, 0], atol=5e-5)
    np.testing.assert_allclose(got["high"], expected[:, 1], atol=5e-5)


@pytest.mark.parametrize(
    "counts", [(56, 70, 48, 80), (9, 10, 3, 10), (130, 277, 384, 556), (1, 12, 0, 15)]
)
def test_the_p_value_is_pearsons_chi_square_without_continuity_correction(
    counts: tuple[int, int, int, int],
) -> None:
    x1, n1, x2, n2 = counts
    got = two_proportions(*_arrays(counts), alpha=0.05)["p"][0]
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    assert got == pytest.approx(sps.chi2_contingency(table, correction=False).pvalue, rel=1e-9)


def test_equal_rates_of_0_or_1_on_both_sides_give_p_1_rather_than_nan() -> None:
    got = two_proportions(*_arrays((0, 10, 0, 20), (10, 10, 20, 20)), alpha=0.05)
    assert got["p"].tolist() == [1.0, 1.0]
    assert got["diff"].tolist() == [0.0, 0.0]


def test_a_side_without_records_gives_no_gap_and_no_error() -> None:
    got = two_proportions(*_arrays((0, 0, 5, 20), (3, 10, 0, 0)), alpha=0.05)
    for key in ("diff", "low", "high", "ratio", "p"):
        assert np.isnan(got[key]).all()


def test_the_ratio_interval_contains_the_ratio_and_is_wider_for_smaller_samples() -> None:
    got = two_proportions(*_arrays((30, 100, 60, 100), (300, 1000, 600, 1000)), alpha=0.05)
    assert got["ratio"].tolist() == pytest.approx([0.5, 0.5])
    assert (got["rlow"] < 0.5).all() and (got["rhigh"] > 0.5).all()
    assert got["rhigh"][0] - got["rlow"][0] > got["rhigh"][1] - got["rlow"][1]


@pytest.mark.parametrize(
    ("x", "n", "ref"), [(31, 50, 0.5), (0, 12, 0.3), (12, 12, 0.9), (1, 1, 0.62)]
)
def test_a_rate_against_a_reference_uses_scipys_wilson_interval_and_exact_test(
    x: int, n: int, ref: float
) -> None:
    got = against_reference(np.array([x], float), np.array([n], float), np.array([ref]), 0.05)
    scipy_test = sps.binomtest(x, n, ref)
    ci = scipy_test.proportion_ci(confidence_level=0.95, method="wilson")
    assert got["low"][0] == pytest.approx(ci.low - ref, abs=1e-9)
    assert got["high"][0] == pytest.approx(ci.high - ref, abs=1e-9)
    assert got["p"][0] == pytest.approx(scipy_test.pvalue)
    assert got["diff"][0] == pytest.approx(x / n - ref)


def test_the_ratio_bootstrap_is_seeded_and_covers_the_difference_of_ratios() -> None:
    rng = np.random.default_rng(3)
    teachers1, teachers2 = rng.integers(10, 40, 300), rng.integers(10, 40, 300)
    pupils1 = teachers1 * 12 + rng.normal(0, 20, 300)
    pupils2 = teachers2 * 14 + rng.normal(0, 20, 300)
    args = (pupils1, teachers1.astype(float), pupils2, teachers2.astype(float), 0.05, 500, 7)
    first, second = bootstrap_ratio_gap(*args), bootstrap_ratio_gap(*args)
    assert first == second
    low, high, rlow, rhigh = first
    assert low < -2 < high and high - low < 1
    assert rlow < 12 / 14 < rhigh


def test_the_ratio_bootstrap_needs_two_rows_a_side() -> None:
    one = np.array([1.0])
    assert all(np.isnan(bootstrap_ratio_gap(one, one, one, one, 0.05, 100, 0)))
