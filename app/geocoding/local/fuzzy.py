"""Fuzzy street matching: keys sorted by length, so a cutoff bounds the keys worth scoring."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

from rapidfuzz import process
from rapidfuzz.distance import OSA

FUZZY_CUTOFF = 0.7  # normalised OSA similarity below which a street is not considered


class Pool:
    """Street keys sorted by length: a similarity cutoff bounds the lengths worth scoring."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        keys = sorted(groups, key=len)
        self.keys = keys
        self.lengths = [len(k) for k in keys]
        self.groups = [groups[k] for k in keys]

    def extract(self, query: str, limit: int = 8) -> list[tuple[int, float]]:
        """(index, similarity) of the closest keys at or above FUZZY_CUTOFF."""
        # OSA distance >= length difference, normalised by the longer: a key shorter than
        # cutoff * len(query) or longer than len(query) / cutoff cannot reach the cutoff.
        n = len(query)
        lo = bisect_left(self.lengths, math.ceil(n * FUZZY_CUTOFF - 1e-9))
        hi = bisect_right(self.lengths, math.floor(n / FUZZY_CUTOFF + 1e-9))
        if lo >= hi:
            return []
        found = process.extract(
            query,
            self.keys[lo:hi],
            scorer=OSA.normalized_similarity,
            limit=limit,
            score_cutoff=FUZZY_CUTOFF,
        )
        return [(lo + idx, float(score)) for _, score, idx in found]
