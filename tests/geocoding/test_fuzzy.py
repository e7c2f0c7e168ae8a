"""The fuzzy street pool: its bounds never change what rapidfuzz alone would answer."""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right

import pytest
from rapidfuzz import process
from rapidfuzz.distance import OSA

from app.geocoding.ban_file import read_ban_file
from app.geocoding.local.fuzzy import BOUND_MIN_KEYS, FUZZY_CUTOFF, CharCounts, Pool
from app.geocoding.normalize import normalize_street, street_key
from tests.conftest import BAN_BONDY, BAN_PARIS


@pytest.fixture(scope="module")
def paris_keys() -> list[str]:
    """Every distinct street key of Paris and Bondy (about 7,600)."""
    names = [s.name for path in (BAN_PARIS, BAN_BONDY) for s in read_ban_file(path).streets]
    return sorted({street_key(normalize_street(n)) for n in names})


def _reference(pool: Pool, query: str, limit: int) -> list[tuple[int, float]]:
    """rapidfuzz over every key of the length window, no other filter."""
    n = len(query)
    lo = bisect_left(pool.lengths, math.ceil(n * FUZZY_CUTOFF - 1e-9))
    hi = bisect_right(pool.lengths, math.floor(n / FUZZY_CUTOFF + 1e-9))
    found = process.extract(
        query,
        pool.keys[lo:hi],
        scorer=OSA.normalized_similarity,
        limit=limit,
        score_cutoff=FUZZY_CUTOFF,
    )
    return [(lo + i, float(score)) for _, score, i in found]


def _typos(keys: list[str], count: int, seed: int) -> list[str]:
    """Keys with one or two edits (delete, insert, substitute, transpose), seeded."""
    rnd = random.Random(seed)
    out = []
    for key in rnd.sample(keys, count):
        chars = list(key)
        for _ in range(rnd.choice((1, 2))):
            i = rnd.randrange(len(chars))
            kind = rnd.choice(("delete", "insert", "substitute", "transpose"))
            if kind == "delete" and len(chars) > 1:
                del chars[i]
            elif kind == "insert":
                chars.insert(i, rnd.choice("aeinrstu"))
            elif kind == "substitute":
                chars[i] = rnd.choice("abcdeilmnorstuz")
            elif i + 1 < len(chars):
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
        out.append("".join(chars))
    return out


@pytest.mark.parametrize("limit", [1, 8, 50])
def test_extract_answers_what_rapidfuzz_answers_over_every_key(
    paris_keys: list[str], limit: int
) -> None:
    pool = Pool({k: [i] for i, k in enumerate(paris_keys)})
    queries = [*_typos(paris_keys, 400, seed=limit), "rue paix", "bd villette", "zzzz", "e"]
    for query in queries:
        assert pool.extract(query, limit) == _reference(pool, query, limit), query


def test_a_large_pool_is_filtered_by_the_character_bound(paris_keys: list[str]) -> None:
    pool = Pool({k: [i] for i, k in enumerate(paris_keys)})
    assert len(paris_keys) > 20 * BOUND_MIN_KEYS
    found = pool.extract("rue faubourg saint antoine")
    assert found[0] == (pool.keys.index("rue faubourg saint antoine"), 1.0)


@pytest.mark.parametrize(
    ("text", "key", "common"),
    [
        ("rue paix", "rue paix", 8),
        ("rue paix", "paix rue", 8),  # a multiset: order does not count
        ("aab", "abb", 2),
        ("eeee", "ee", 2),
        ("rue", "xyz", 0),
        ("rue ÿ", "rue", 3),  # a character no key holds counts for nothing
    ],
)
def test_common_is_the_size_of_the_character_multisets_intersection(
    text: str, key: str, common: int
) -> None:
    counts = CharCounts([key, "eeee", "abcdefghijklmnopqrstuvwxyz " * 3])
    assert counts.common(text, 0, 1).tolist() == [common]


def test_the_character_bound_keeps_every_key_within_the_cutoff(paris_keys: list[str]) -> None:
    # similarity <= common / max(len): checked on real keys against their typos.
    counts = CharCounts(paris_keys)
    for query in _typos(paris_keys, 300, seed=7):
        common = counts.common(query, 0, len(paris_keys)).tolist()
        for key, shared in zip(paris_keys, common, strict=True):
            similarity = OSA.normalized_similarity(query, key)
            assert similarity <= shared / max(len(query), len(key)) + 1e-9, (query, key)


def test_an_empty_pool_finds_nothing() -> None:
    assert Pool({}).extract("rue paix") == []
    assert CharCounts([]).common("rue paix", 0, 0).tolist() == []
