"""Primary and secondary suppression: no hidden cell can be recomputed from one published total."""

from __future__ import annotations

import numpy as np
import pytest

from app.stats.suppression import suppress

# A 2 x 3 table with its margins: group 0 is the total, 1-2 rows, 3-5 columns, 6-11 cells.
ROWS, COLUMNS = [1, 2], [3, 4, 5]
CELL = {(r, c): 6 + 3 * i + j for i, r in enumerate(ROWS) for j, c in enumerate(COLUMNS)}
LINES = (
    [(0, ROWS), (0, COLUMNS), (0, list(CELL.values()))]
    + [(r, [CELL[r, c] for c in COLUMNS]) for r in ROWS]
    + [(c, [CELL[r, c] for r in ROWS]) for c in COLUMNS]
)


def _table(cells: dict[tuple[int, int], int]) -> np.ndarray:
    counts = np.zeros(12)
    for (r, c), n in cells.items():
        counts[CELL[r, c]] = n
        counts[r] += n
        counts[c] += n
        counts[0] += n
    return counts[:, None]


def _exposed_lines(hidden: np.ndarray) -> list[tuple[int, list[int]]]:
    return [(t, p) for t, p in LINES if sum(hidden[m] for m in [t, *p]) == 1]


def test_a_small_cell_is_hidden_with_enough_others_that_no_total_gives_it_away() -> None:
    counts = _table({(1, 3): 4, (1, 4): 50, (1, 5): 60, (2, 3): 40, (2, 4): 30, (2, 5): 70})
    result = suppress(counts, LINES, threshold=11)
    assert np.flatnonzero(result.primary[:, 0]).tolist() == [CELL[1, 3]]
    assert result.secondary[:, 0].sum() >= 2
    assert _exposed_lines(result.hidden[:, 0]) == []
    # The smallest neighbours are the ones hidden: 40 in its column, 50 in its row.
    assert result.secondary[CELL[2, 3], 0] and result.secondary[CELL[1, 4], 0]


def test_empty_cells_are_published_and_never_used_as_complements() -> None:
    counts = _table({(1, 3): 3, (1, 4): 0, (1, 5): 60, (2, 3): 0, (2, 4): 30, (2, 5): 70})
    result = suppress(counts, LINES, threshold=11)
    assert not result.hidden[CELL[1, 4], 0] and not result.hidden[CELL[2, 3], 0]
    assert _exposed_lines(result.hidden[:, 0]) == []


def test_when_every_cell_and_margin_is_small_only_the_total_is_published() -> None:
    counts = _table({(r, c): 2 for r in ROWS for c in COLUMNS})
    result = suppress(counts, LINES, threshold=11)
    assert result.hidden[1:, 0].all() and not result.hidden[0, 0]
    assert result.primary[:, 0].sum() == 11  # the total (12 records) alone is not small


def test_when_the_total_is_small_too_every_cell_is_hidden() -> None:
    counts = _table({(r, c): 1 for r in ROWS for c in COLUMNS})
    result = suppress(counts, LINES, threshold=11)
    assert result.primary[:, 0].all() and not result.secondary.any()


@pytest.mark.parametrize("seed", range(30))
def test_no_line_ever_has_exactly_one_hidden_member(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = _table(
        {(r, c): int(rng.choice([0, 2, 5, 9, 12, 40, 200])) for r in ROWS for c in COLUMNS}
    )
    result = suppress(counts, LINES, threshold=11)
    assert _exposed_lines(result.hidden[:, 0]) == []
    assert (result.primary[:, 0] == ((counts[:, 0] > 0) & (counts[:, 0] < 11))).all()


def test_a_threshold_of_one_hides_nothing() -> None:
    counts = _table({(1, 3): 1, (1, 4): 2, (1, 5): 3, (2, 3): 4, (2, 4): 5, (2, 5): 6})
    assert not suppress(counts, LINES, threshold=1).hidden.any()
