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
1.5 % of them pass the character bound, and rapidfuzz scores only those (2.5-3x less CPU
for the bench's 50,298 fuzzy searches). The packed counts are plain arrays (``uint64``
words, ``int16`` lengths): a pool of a million keys is 32 MB, packed in ~2 s on first use,
and filtered in ~10 ms per query where rapidfuzz alone takes ~260 ms (same answers).
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


def _need(length: int) -> int:
    """Characters in common a key needs when the longer string has ``length`` of them."""
    return math.ceil(length * FUZZY_CUTOFF - _EPS)


class CharCounts:
    """Every key's character counts as bit planes: ``common`` with a query is a popcount."""

    def __init__(self, keys: list[str]) -> None:
        alphabet, held = _char_counts(keys)
        # Levels per character: the most times any key holds it, so the encoding is exact;
        # runs[c][n]: the bits (c, 1..n), for n up to the levels of c.
        self.runs: dict[str, list[int]] = {}
        nbits = 0
        planes: list[tuple[int, int, int]] = []  # (bit, character column, level)
        for column, ch in enumerate(alphabet):
            levels = int(held[column].max())
            self.runs[ch] = [((1 << n) - 1) << nbits for n in range(levels + 1)]
            planes += [(nbits + j, column, j) for j in range(levels)]
            nbits += levels
        self.words = max(1, math.ceil(nbits / 64))
        # One row of 64-bit words per word index, keys along columns.
        self.packed = np.zeros((self.words, len(keys)), dtype=np.uint64)
        for bit, column, j in planes:
            has = (held[column] > j).astype(np.uint64)
            self.packed[bit // 64] |= has << np.uint64(bit % 64)

    def mask(self, text: str) -> int:
        """Bits (c, 1..count of c in text) of the characters the pool knows, as one integer."""
        bits = 0
        runs = self.runs
        for ch in set(text):
            run = runs.get(ch)
            if run is not None:
                bits |= run[min(text.count(ch), len(run) - 1)]
        return bits

    def common(self, text: str, lo: int, hi: int) -> NDArray[np.int16]:
        """Size of the character-multiset intersection of ``text`` with keys ``lo:hi``."""
        words = np.frombuffer(self.mask(text).to_bytes(8 * self.words, "little"), dtype="<u8")
        # One AND, one popcount and one sum over all the words: a few numpy calls per
        # query whatever the pool (each call costs about a microsecond).
        counts = np.bitwise_count(self.packed[:, lo:hi] & words[:, None])
        total: NDArray[np.int16] = counts.sum(axis=0, dtype=np.int16)
        return total


_CHUNK = 1 << 16  # keys counted at a time (bounded temporary arrays)


def _char_counts(keys: list[str]) -> tuple[list[str], NDArray[np.uint16]]:
    """The characters of the keys (code point order) and how many times each key holds
    each of them (one row per character, one column per key).

    Array work only, by chunks of keys: a million keys take about a second.
    """
    alphabet = sorted(set().union(*keys)) if keys else []
    held = np.zeros((len(keys), len(alphabet)), dtype=np.uint16)
    if not alphabet:
        return alphabet, held.T
    # Code point -> column + 1 (0: the padding of shorter keys).
    lookup = np.zeros(ord(alphabet[-1]) + 1, dtype=np.int64)
    lookup[[ord(ch) for ch in alphabet]] = np.arange(1, len(alphabet) + 1)
    width = len(alphabet) + 1
    for lo in range(0, len(keys), _CHUNK):
        chunk = np.array(keys[lo : lo + _CHUNK], dtype=str)
        size = max(chunk.dtype.itemsize // 4, 1)
        codes = chunk.view(np.uint32).reshape(len(chunk), size)
        cells = lookup[codes] + np.arange(len(chunk))[:, None] * width
        counts = np.bincount(cells.ravel(), minlength=len(chunk) * width)
        held[lo : lo + len(chunk)] = counts.reshape(len(chunk), width)[:, 1:]
    return alphabet, np.ascontiguousarray(held.T)


class Pool:
    """Street keys sorted by length: a similarity cutoff bounds the keys worth scoring."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        keys = sorted(groups, key=len)
        self.keys = keys
        self.lengths = [len(k) for k in keys]
        self.groups = [groups[k] for k in keys]
        self._counts: CharCounts | None = None  # built on the first large extract
        # The fewest characters a key must share with a query as long as itself or shorter.
        self._need = np.array([_need(n) for n in self.lengths], dtype=np.int16)

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
        # similarity <= common / max(len): the longer of key and query sets the need.
        kept = np.flatnonzero(common >= np.maximum(self._need[lo:hi], _need(n)))
        if kept.size == 0:
            return []
        index = (kept + lo).tolist()
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
