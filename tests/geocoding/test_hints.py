"""BAN's search options applied to any provider's candidates: type, limit, proximity."""

from __future__ import annotations

import pytest

from app.geocoding.base import Candidate, GeocodeResult, MatchType
from app.geocoding.hints import SearchHints


def _candidate(label: str, score: float, lon: float, kind: MatchType) -> Candidate:
    return Candidate(label=label, score=score, type=kind, lon=lon, lat=48.9)


# The same street in two communes 20 km apart, nearly tied, and a street-level match.
RESULT = GeocodeResult(
    candidates=[
        _candidate("west", 0.90, 2.20, MatchType.HOUSENUMBER),
        _candidate("east", 0.89, 2.48, MatchType.HOUSENUMBER),
        _candidate("street", 0.70, 2.48, MatchType.STREET),
    ]
)


@pytest.mark.parametrize(
    ("hints", "labels"),
    [
        (SearchHints(), ["west", "east", "street"]),
        (SearchHints(limit=1), ["west"]),
        (SearchHints(type=MatchType.STREET), ["street"]),
        (SearchHints(type=MatchType.MUNICIPALITY), []),
        # Near the east one: the near-tie flips, the weak street stays behind.
        (SearchHints(near=(2.48, 48.9)), ["east", "west", "street"]),
        (SearchHints(near=(2.20, 48.9)), ["west", "east", "street"]),
    ],
)
def test_hints_filter_cap_and_order_candidates(hints: SearchHints, labels: list[str]) -> None:
    assert [c.label for c in hints.apply(RESULT).candidates] == labels


def test_proximity_never_puts_a_poor_match_first() -> None:
    hints = SearchHints(near=(2.48, 48.9))
    result = GeocodeResult(
        candidates=[
            _candidate("good", 0.95, 3.50, MatchType.HOUSENUMBER),
            _candidate("poor", 0.80, 2.48, MatchType.HOUSENUMBER),
        ]
    )
    assert [c.label for c in hints.apply(result).candidates] == ["good", "poor"]
