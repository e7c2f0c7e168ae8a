"""compare: what a new dataset changes from the one in use, and which limits it passes."""

from __future__ import annotations

import pytest
import shapely

from app.data.plausibility import ImportLimits, area_km2, compare

LIMITS = ImportLimits.default()


def _square(lon: float, size: float = 0.01) -> shapely.Geometry:
    return shapely.box(lon, 48.85, lon + size, 48.85 + size)


OLD = [(f"QN075{i:02d}M", _square(2.3 + i * 0.02)) for i in range(20)]


def test_an_identical_dataset_passes_every_limit() -> None:
    changes = compare(7, OLD, OLD, LIMITS)
    assert changes.exceeded == ()
    assert (changes.old_count, changes.new_count, changes.gone, changes.added) == (20, 20, (), ())
    assert str(changes).startswith("compared with dataset 7: 20 QPV instead of 20 (+0.0%)")


@pytest.mark.parametrize(
    ("new", "exceeded"),
    [
        # 3 QPV instead of 20: fewer features, codes gone, less area.
        (OLD[:3], ("feature count", "codes gone", "total area")),
        # One quartier grown tenfold: the total moves 45 %, the quartier 900 %.
        (
            [*OLD[:-1], (OLD[-1][0], _square(2.68, 0.01 * 10**0.5))],
            ("total area", "area of one quartier"),
        ),
        # Two codes renamed out of twenty: 10 % gone is at the limit, not past it.
        ([*OLD[:-2], ("QN07590M", OLD[-2][1]), ("QN07591M", OLD[-1][1])], ()),
        # Three renamed: past it.
        (
            [*OLD[:-3], *((f"QN0759{i}M", g) for i, (_, g) in enumerate(OLD[-3:]))],
            ("codes gone",),
        ),
    ],
    ids=["three-features", "one-quartier-tenfold", "two-renamed", "three-renamed"],
)
def test_changes_past_a_limit_are_named(
    new: list[tuple[str, shapely.Geometry]], exceeded: tuple[str, ...]
) -> None:
    assert compare(1, OLD, new, LIMITS).exceeded == exceeded


def test_the_report_says_by_how_much_the_largest_quartiers_changed() -> None:
    shrunk = [*OLD[:-1], (OLD[-1][0], _square(2.68, 0.005))]
    text = str(compare(3, OLD, shrunk, LIMITS))
    # Its centroid moved too (a quarter of the square towards its south-west corner).
    assert text.endswith(
        f"largest area changes: {OLD[-1][0]} -75.0%; largest moves: {OLD[-1][0]} 333 m south-west"
    )


def test_the_report_names_the_first_codes_gone_and_new() -> None:
    renamed = [*OLD[:-1], ("QN07599M", OLD[-1][1])]
    assert ", 1 codes gone (QN07519M), 1 new (QN07599M), " in str(compare(3, OLD, renamed, LIMITS))


def test_an_area_is_in_square_kilometres_at_its_latitude() -> None:
    # 0.01° x 0.01° at 48.85° N: 1.113 km x 0.732 km.
    assert area_km2(_square(2.35)) == pytest.approx(0.816, abs=0.002)
