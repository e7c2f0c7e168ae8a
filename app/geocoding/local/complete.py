"""Autocompletion over the offline tables: what a form suggests while an address is typed.

Every word typed but the last is a whole word; the last may be the start of one ("4 rue eric
tab"). The streets are found through their matching keys (``street_key``: folded, articles
dropped), deduplicated (the national BAN has far fewer distinct names than streets) and
numbered by weight, the addresses under each name, heaviest first: a word's list of names
is then also its names in order of importance, and a query whose words are common ("4 rue")
only reads the first names of its rarest word. Trailing words may name the commune instead
("tabarly bondy"), a five-digit word is a postcode, a leading number the house number.

The index is built from the tables on first use (``completer``), once per geocoder: a pass
over the distinct names, not over the streets.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from app.folding import fold
from app.geocoding.base import Candidate
from app.geocoding.local.once import PerGeocoder
from app.geocoding.normalize import (
    ARTICLES,
    STREET_TYPES,
    WORDS,
    HouseNumber,
    normalize_city,
    parse_housenumber,
)

if TYPE_CHECKING:
    from app.geocoding.local.geocoder import LocalGeocoder

# Scores on BAN's scale: a completed name scores by how much of it was typed.
FLOOR = 0.5
SPAN = 0.47  # a name typed whole scores FLOOR + SPAN = 0.97, as an exact search does
# A query whose rarest word is in more names than this reads them in order of weight
# (heaviest first) rather than all of them.
DENSE = 20_000
CHUNK = 8_192
MAX_SCANNED = 400_000
# Names kept per query before streets are expanded and ranked.
KEPT_NAMES = 200


@dataclass(frozen=True, slots=True)
class Typed:
    """A query split as typed: house number, street words, postcode; the last word may be
    incomplete (``open``)."""

    number: HouseNumber | None
    words: tuple[str, ...]
    postcode: str | None
    open: bool  # the last word is still being typed


def split_typed(text: str) -> Typed:
    """Number, words and postcode of a query typed so far."""
    tokens = fold(text).split()
    open_ = bool(text) and not text[-1].isspace() and not text.rstrip().endswith(",")
    number = None
    glued = _GLUED_NUMBER.fullmatch(tokens[0]) if len(tokens) > 1 else None
    if glued is not None:
        # "4", "4 bis", "22bis", "28p": the house number and its repetition index.
        rep = glued.group(2) or (tokens[1] if len(tokens) > 2 and _is_rep(tokens[1]) else "")
        number = parse_housenumber(f"{glued.group(1)} {rep}".strip())
        tokens = tokens[2:] if rep and not glued.group(2) else tokens[1:]
    at = next((i for i, t in enumerate(tokens) if len(t) == 5 and t.isdigit()), None)
    if at is None:
        return Typed(number, tuple(tokens), None, open_ and bool(tokens))
    # "... 93140 Bondy": after a postcode comes its commune, which the postcode already
    # names; a postcode first ("93140 Bondy rue X") leaves the words to be read.
    words = tuple(tokens[:at]) if at else tuple(tokens[1:])
    return Typed(number, words, tokens[at], open_ and bool(words) and tokens[-1] == words[-1])


_GLUED_NUMBER = re.compile(r"(\d{1,4})([a-z]{1,6}\d?)?")


def _is_rep(token: str) -> bool:
    return token in ("bis", "ter", "quater", "b", "t", "q") or (
        len(token) == 1 and token.isalpha() and token != "r"
    )


class _Vocabulary:
    """Sorted distinct words, with the prefix range of a word start."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = sorted(set(words))

    def exact(self, word: str) -> tuple[int, int] | None:
        i = bisect_left(self.words, word)
        return (i, i + 1) if i < len(self.words) and self.words[i] == word else None

    def prefix(self, start: str) -> tuple[int, int] | None:
        lo = bisect_left(self.words, start)
        hi = bisect_left(self.words, start + "\x7f")
        return (lo, hi) if hi > lo else None


def _csr(groups: Sequence[Sequence[int]]) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    lengths = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
    offsets = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((x for g in groups for x in g), dtype=np.int32, count=int(offsets[-1]))
    return offsets, flat


class Completer:
    """Streets and communes of the local tables by the start of their names."""

    def __init__(self, geocoder: LocalGeocoder) -> None:
        self.geocoder = geocoder
        streets, _, ix = geocoder.tables
        keys, offsets, members = _distinct_keys(streets, ix.keys)
        sizes = np.asarray(streets.end) - np.asarray(streets.start)
        weight = np.add.reduceat(sizes[members], offsets[:-1]) if len(members) else sizes[:0]
        order = np.argsort(-weight, kind="stable")  # name ids by weight: heaviest first
        # The names themselves are not kept: their words and letter counts are enough.
        keys = [keys[i] for i in order.tolist()]
        self.names = len(keys)
        self.name_off, self.name_streets = _reordered(offsets, members, order)
        # Each name's words, in one split of all the names (keys are words joined by one space).
        words = " ".join(keys).split()
        per_name = (k.count(" ") + 1 if k else 0 for k in keys)
        lengths = np.fromiter(per_name, dtype=np.int64, count=len(keys))
        self.vocabulary = _Vocabulary(words)
        ids = {w: i for i, w in enumerate(self.vocabulary.words)}
        self.fw_off = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        self.fw_words = np.fromiter((ids[w] for w in words), dtype=np.int32, count=len(words))
        # Word -> names holding it, in name order (= by weight): a stable sort by word.
        owner = np.repeat(np.arange(len(keys), dtype=np.int32), np.diff(self.fw_off))
        self.post_names = owner[np.argsort(self.fw_words, kind="stable")]
        counts = np.bincount(self.fw_words, minlength=len(self.vocabulary.words))
        self.post_off = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.name_letters = np.fromiter(
            (len(k) - k.count(" ") for k in keys), dtype=np.int64, count=len(keys)
        )
        self.name_of_street = np.zeros(len(sizes), dtype=np.int32)
        self.name_of_street[self.name_streets] = np.repeat(
            np.arange(len(keys), dtype=np.int32), np.diff(self.name_off)
        )
        self.cities = sorted(ix.city_names)
        self.street_sizes = sizes

    # ------------------------------------------------------------------ public API

    def complete(
        self,
        text: str,
        limit: int = 5,
        citycodes: frozenset[str] | None = None,
    ) -> list[Candidate]:
        """Suggestions for ``text`` (best first), restricted to ``citycodes`` when given."""
        typed = split_typed(text)
        if not typed.words:
            return []
        allowed = self._allowed(typed, citycodes)
        if allowed is not None and not allowed:
            return []
        found: dict[tuple[str, Any], Candidate] = {}
        for street_words, city_codes in self._readings(typed):
            scope = _narrowed(allowed, city_codes)
            if scope is not None and not scope:
                continue
            for cand in self._streets_for(typed, street_words, scope, limit):
                key = (cand.label, cand.id)
                if key not in found or found[key].score < cand.score:
                    found[key] = cand
        if typed.number is None:
            for cand in self._communes_for(typed, allowed):
                found.setdefault((cand.label, cand.id), cand)
        ranked = sorted(found.values(), key=lambda c: -c.score)
        return ranked[:limit]

    # ------------------------------------------------------------------ readings

    def _readings(self, typed: Typed) -> list[tuple[tuple[str, ...], frozenset[str] | None]]:
        """(street words, communes named by the trailing words) for each way to read them."""
        words = typed.words
        out: list[tuple[tuple[str, ...], frozenset[str] | None]] = [(words, None)]
        for n in range(1, min(6, len(words) - 1) + 1):
            codes = self._city_codes(" ".join(words[-n:]), open_=typed.open)
            if codes:
                out.append((words[:-n], codes))
        return out

    def _city_codes(self, text: str, open_: bool) -> frozenset[str] | None:
        """Communes whose name is ``text`` (or starts with it while it is typed)."""
        name = normalize_city(text)
        if not name:
            return None
        names = self.geocoder.tables[2].city_names
        if not open_:
            return frozenset(names.get(name, ())) or None
        lo = bisect_left(self.cities, name)
        hi = bisect_left(self.cities, name + "\x7f")
        codes = {c for city in self.cities[lo : min(hi, lo + 50)] for c in names[city]}
        return frozenset(codes) or None

    def _allowed(self, typed: Typed, citycodes: frozenset[str] | None) -> frozenset[str] | None:
        """The communes the postcode typed and the caller's filter leave, None for all."""
        allowed = citycodes
        if typed.postcode is not None:
            by_postcode = frozenset(
                self.geocoder.tables[2].postcode_communes.get(typed.postcode, ())
            )
            allowed = by_postcode if allowed is None else allowed & by_postcode
        return allowed

    # ------------------------------------------------------------------ streets

    def _ranges(self, words: Sequence[str], open_: bool) -> list[list[tuple[int, int]]] | None:
        """For each street word, the word-id ranges that satisfy it (None: a word is unknown)."""
        vocabulary = self.vocabulary
        words = [w for i, w in enumerate(words) if w not in ARTICLES or i == len(words) - 1]
        out = []
        for i, word in enumerate(words):
            last = open_ and i == len(words) - 1
            forms = {word, *_expansions(word, first=i == 0)}
            ranges = [
                r
                for form in forms
                if (r := (vocabulary.prefix(form) if last else vocabulary.exact(form)))
            ]
            if not ranges:
                if word in ARTICLES:
                    continue  # "rue de": the article is left out of the names' keys
                return None
            out.append(ranges)
        return out

    def _count(self, ranges: list[tuple[int, int]]) -> int:
        return int(sum(self.post_off[hi] - self.post_off[lo] for lo, hi in ranges))

    def _names(self, ranges: list[list[tuple[int, int]]]) -> NDArray[np.int64]:
        """Ids of the names holding every word, heaviest first: all of them when the rarest
        word is in few names, else the first KEPT_NAMES or so in order of weight."""
        counts = [self._count(r) for r in ranges]
        driver = int(np.argmin(counts))
        others = [r for i, r in enumerate(ranges) if i != driver]
        if counts[driver] <= DENSE:
            parts = [
                self.post_names[self.post_off[lo] : self.post_off[hi]] for lo, hi in ranges[driver]
            ]
            found = np.unique(np.concatenate(parts)).astype(np.int64)
            return found[self._holds(found, others)]
        kept: list[NDArray[np.int64]] = []
        total = 0
        for start in range(0, min(self.names, MAX_SCANNED), CHUNK):
            chunk = np.arange(start, min(start + CHUNK, self.names), dtype=np.int64)
            chunk = chunk[self._holds(chunk, ranges)]
            kept.append(chunk)
            total += len(chunk)
            if total >= KEPT_NAMES:
                break
        return np.concatenate(kept) if kept else np.empty(0, np.int64)

    def _holds(self, names: NDArray[Any], ranges: list[list[tuple[int, int]]]) -> NDArray[np.bool_]:
        """Which names hold a word of every list of ranges (through their own words)."""
        ok = np.ones(len(names), dtype=bool)
        if not ranges or not len(names):
            return ok
        starts = self.fw_off[names]
        lengths = self.fw_off[names + 1] - starts
        words = self.fw_words[_gather(starts, lengths)]
        bounds = np.cumsum(lengths) - lengths
        for token_ranges in ranges:
            hit = np.zeros(len(words), dtype=bool)
            for lo, hi in token_ranges:
                hit |= (words >= lo) & (words < hi)
            ok &= np.add.reduceat(hit, bounds) > 0 if len(words) else False
        return ok

    def _streets_for(
        self,
        typed: Typed,
        words: Sequence[str],
        scope: frozenset[str] | None,
        limit: int,
    ) -> list[Candidate]:
        if not words:
            return []
        ranges = self._ranges(words, typed.open and words[-1] == typed.words[-1])
        if ranges is None:
            return []
        names = self._names(ranges)  # ascending ids: heaviest first
        if not len(names):
            return []
        typed_len = sum(len(w) for w in words if w not in ARTICLES)
        coverage = np.minimum(1.0, typed_len / np.maximum(1, self.name_letters[names]))
        if scope is None:
            streets, which = self._best_streets(names, coverage, limit * 3)
        else:
            streets, which = self._scoped_streets(names, scope)
        rank = np.lexsort((-self.street_sizes[streets], -coverage[which]))[: limit * 3]
        out = []
        for j in rank.tolist():
            base = FLOOR + SPAN * float(coverage[which[j]])
            out.append(self.geocoder.street_candidate(int(streets[j]), typed.number, base))
        return out

    def _best_streets(
        self, names: NDArray[np.int64], coverage: NDArray[np.float64], wanted: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The streets of the names best covered by what was typed (then heaviest), enough
        of them for ``wanted`` suggestions, and the position in ``names`` of each one's name."""
        order = np.lexsort((names, -coverage))
        counts = self.name_off[names[order] + 1] - self.name_off[names[order]]
        upto = int(np.searchsorted(np.cumsum(counts), wanted)) + 1
        chosen = order[:upto]
        starts = self.name_off[names[chosen]]
        lengths = self.name_off[names[chosen] + 1] - starts
        streets = self.name_streets[_gather(starts, lengths)].astype(np.int64)
        return streets, np.repeat(chosen, lengths)

    def _scoped_streets(
        self, names: NDArray[np.int64], scope: frozenset[str]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The streets of the communes of ``scope`` that bear one of ``names`` (sorted), and
        the position in ``names`` of each one's name."""
        groups = self.geocoder.tables[2].commune_streets
        parts = [np.asarray(groups[c], dtype=np.int64) for c in scope if c in groups]
        if not parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        streets = np.concatenate(parts)
        name = self.name_of_street[streets]
        at = np.minimum(np.searchsorted(names, name), len(names) - 1)
        keep = names[at] == name
        return streets[keep], at[keep]

    # ------------------------------------------------------------------ communes

    def _communes_for(self, typed: Typed, allowed: frozenset[str] | None) -> list[Candidate]:
        """Communes whose name starts with the whole query (no number, no street)."""
        codes = self._city_codes(" ".join(typed.words), open_=typed.open)
        if not codes:
            return []
        if allowed is not None:
            codes = codes & allowed
        typed_len = len(" ".join(typed.words))
        out = []
        for code in sorted(codes)[:10]:
            cand = self.geocoder.commune_candidate(code, 1.0)
            if cand is None:
                continue
            full = len(normalize_city(cand.city or cand.label)) or 1
            score = round(FLOOR + SPAN * min(1.0, typed_len / full) + 0.02, 4)
            out.append(Candidate(**{**_fields(cand), "score": min(score, 0.99)}))
        return out


def _fields(cand: Candidate) -> dict[str, Any]:
    return {f: getattr(cand, f) for f in cand.__dataclass_fields__}


def _expansions(word: str, first: bool) -> list[str]:
    """What an abbreviation stands for: street types first in the name, titles anywhere."""
    out = []
    if first and word in STREET_TYPES:
        out.append(STREET_TYPES[word].split()[0])
    if word in WORDS:
        out.append(WORDS[word].split()[0])
    return out


def _narrowed(
    allowed: frozenset[str] | None, named: frozenset[str] | None
) -> frozenset[str] | None:
    if named is None:
        return allowed
    return named if allowed is None else allowed & named


def _distinct_keys(
    streets: Any, keys: Sequence[str]
) -> tuple[list[str], NDArray[np.int64], NDArray[np.int32]]:
    """Each distinct street key, and the streets that have it (offsets into one array)."""
    lookups = getattr(streets, "lookups", None)
    if lookups is None or "by_key_h" not in lookups.arrays:
        groups: dict[str, list[int]] = {}
        for s, key in enumerate(keys):
            groups.setdefault(key, []).append(s)
        offsets, members = _csr(list(groups.values()))
        return list(groups), offsets, members
    # The key hashes, sorted, already group the streets by name: one pass over the groups.
    # (Two keys of one 64-bit hash would share suggestions; the matcher checks its hits.)
    hashes = np.asarray(lookups.arrays["by_key_h"])
    members = np.asarray(lookups.arrays["by_key_r"], dtype=np.int32)
    change = np.flatnonzero(hashes[1:] != hashes[:-1]) + 1
    offsets = np.concatenate(([0], change, [len(hashes)])).astype(np.int64)
    if not len(hashes):
        return [], offsets[:1], members
    text_offsets = np.asarray(lookups.arrays["s_key_off"])
    text = np.asarray(lookups.arrays["s_key_blob"]).tobytes().decode()
    first = members[offsets[:-1]]
    starts, ends = text_offsets[first].tolist(), text_offsets[first + 1].tolist()
    return [text[a:b] for a, b in zip(starts, ends, strict=True)], offsets, members


def _reordered(
    offsets: NDArray[np.int64], members: NDArray[np.int32], order: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """The groups of a CSR (offsets, members) in a new order."""
    lengths = np.diff(offsets)[order]
    new_offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return new_offsets, members[_gather(offsets[:-1][order], lengths)]


def _gather(starts: NDArray[np.int64], lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """The positions ``starts[i] .. starts[i] + lengths[i]``, all concatenated."""
    ends = np.cumsum(lengths)
    return np.repeat(starts - ends + lengths, lengths) + np.arange(
        int(ends[-1]) if len(ends) else 0
    )


# The completer of a geocoder: completer(geocoder), built on first use.
completer: PerGeocoder[Completer] = PerGeocoder(Completer)
