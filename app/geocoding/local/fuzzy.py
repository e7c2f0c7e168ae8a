"""Fuzzy street matching: keys sorted by length, then a character-count bound, then rapidfuzz.

``Pool.extract`` answers exactly what ``rapidfuzz.process.extract`` over the whole pool
answers (same keys, same scores, same order), but scores only the keys that can reach the
cutoff. Two bounds rule the others out, both lossless for the OSA distance:

- length: an OSA distance is at least the length difference, so a key shorter than
  ``cutoff * len(query)`` or longer than ``len(query) / cutoff`` cannot reach the cutoff
  (keys are sorted by length: two bisections);
- characters in common: insertions, deletions and substitutions change the multiset of
  characters by at most one each, transpositions not at all, so
  ``distance >= max(len) - common`` where ``common`` is the size of the multisets'
  intersection, and ``similarity <= common / max(len)``. Each key's character counts are
  packed as bits (bit ``(c, j)`` set when the key has at least ``j`` times ``c``), so that
  ``common`` is one AND and one popcount per 64-bit word, for the whole pool at once.

A Paris address typed without its arrondissement is compared with 7,355 street keys; about
1.5 % of them pass the character bound, and rapidfuzz scores only those. The packed counts
are plain arrays (``uint64`` words, ``int16`` lengths): a national pool of a million keys is
a few tens of MB and is filtered in milliseconds.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import process
from rapidfuzz.distance import OSA

FUZZY_CUTOFF = 0.7  # normalised OSA similarity below which a street is not considered
# Below this many keys in the length window, rapidfuzz alone is cheaper than the bound.
BOUND_MIN_KEYS = 256
# Slack on the bound's threshold: it must never drop a key rapidfuzz would keep.
_EPS = 1e-7


class CharCounts:
    """Every key's character counts as bit planes: ``common`` with a query is a popcount."""

    def __init__(self, keys: list[str]) -> None:
        # Levels per character: the most times any key holds it, so the encoding is exact.
        levels: dict[str, int] = {}
        for key in keys:
            for ch in set(key):
                levels[ch] = max(levels.get(ch, 0), key.count(ch))
        self.first_bit: dict[str, int] = {}
        self.levels = levels
        nbits = 0
        for ch in sorted(levels):
            self.first_bit[ch] = nbits
            nbits += levels[ch]
        self.words = max(1, math.ceil(nbits / 64))
        packed = np.zeros((self.words, len(keys)), dtype=np.uint64)
        masks = [self.mask(key) for key in keys]
        for w in range(self.words):
            packed[w] = [m >> (64 * w) & 0xFFFF_FFFF_FFFF_FFFF for m in masks]
        self.packed = packed  # one row of 64-bit words per word index, keys along columns

    def mask(self, text: str) -> int:
        """Bits (c, 1..count of c in text) of the characters the pool knows, as one integer."""
        bits = 0
        for ch in set(text):
            first = self.first_bit.get(ch)
            if first is not None:
                n = min(text.count(ch), self.levels[ch])
                bits |= ((1 << n) - 1) << first
        return bits

    def common(self, text: str, lo: int, hi: int) -> NDArray[np.int32]:
        """Size of the character-multiset intersection of ``text`` with keys ``lo:hi``."""
        bits = self.mask(text)
        total = np.zeros(hi - lo, dtype=np.int32)
        for w in range(self.words):
            word = np.uint64(bits >> (64 * w) & 0xFFFF_FFFF_FFFF_FFFF)
            if word:
                total += np.bitwise_count(self.packed[w, lo:hi] & word)
        return total


class Pool:
    """Street keys sorted by length: a similarity cutoff bounds the keys worth scoring."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        keys = sorted(groups, key=len)
        self.keys = keys
        self.lengths = [len(k) for k in keys]
        self.groups = [groups[k] for k in keys]
        self._counts: CharCounts | None = None  # built on the first large extract
        self._length_array = np.asarray(self.lengths, dtype=np.int32)

    def extract(self, query: str, limit: int = 8) -> list[tuple[int, float]]:
        """(index, similarity) of the closest keys at or above FUZZY_CUTOFF, best first."""
        n = len(query)
        lo = bisect_left(self.lengths, math.ceil(n * FUZZY_CUTOFF - 1e-9))
        hi = bisect_right(self.lengths, math.floor(n / FUZZY_CUTOFF + 1e-9))
        if lo >= hi:
            return []
        if hi - lo < BOUND_MIN_KEYS:
            return self._score(query, list(range(lo, hi)), self.keys[lo:hi], limit)
        if self._counts is None:
            self._counts = CharCounts(self.keys)
        common = self._counts.common(query, lo, hi)
        longer = np.maximum(self._length_array[lo:hi], n)
        kept = np.flatnonzero(common >= longer * FUZZY_CUTOFF - _EPS) + lo
        if kept.size == 0:
            return []
        index = kept.tolist()
        return self._score(query, index, [self.keys[i] for i in index], limit)

    @staticmethod
    def _score(
        query: str, index: list[int], choices: list[str], limit: int
    ) -> list[tuple[int, float]]:
        # Candidates are in pool order, so rapidfuzz's tie order (by position) is the pool's.
        found = process.extract(
            query,
            choices,
            scorer=OSA.normalized_similarity,
            limit=limit,
            score_cutoff=FUZZY_CUTOFF,
        )
        return [(index[j], float(score)) for _, score, j in found]
