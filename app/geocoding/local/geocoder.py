"""The ``local`` offline geocoder: BAN streets and address points held in memory.

Matching, in order: restrict to communes (citycode, postcode, city name: exact, then fuzzy),
find the street in those communes (exact normalised key, key without its type word, then
rapidfuzz), then the house number with its repetition index. When the number is missing
the answer is the street; when the street is missing, the commune. Scores follow BAN's
scale: about 0.97 for a clean exact address, lower as the text needed repairs.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

from app.codes import ARRONDISSEMENTS, commune_code, departement_of_citycode
from app.folding import fold
from app.geocoding.base import (
    AddressQuery,
    Candidate,
    Capabilities,
    GeocodeResult,
    MatchNote,
    MatchType,
    NoteKind,
)
from app.geocoding.local.fuzzy import Pool
from app.geocoding.local.index import StreetIndex, index_streets
from app.geocoding.local.phonetic import sound_key
from app.geocoding.local.tables import AddressTable, StreetTable, derived_id
from app.geocoding.normalize import (
    HouseNumber,
    ParsedAddress,
    canonical_rep,
    normalize_city,
    normalize_street,
    parse_address,
    parse_housenumber,
    street_key,
    street_type,
    strip_type,
)

# Score factors, tuned against the bench (bench/bench_geocoder.py) and BAN's own scale.
TOP_SCORE = 0.97  # a clean, exact, complete address (BAN gives 0.95-0.98)
# "12 bis" asked, only "12" exists (or the reverse): up to ~100 m apart, so below the 0.8 of
# a confident answer (measured: 0.9 left 0.2-0.4 % confidently wrong on two accuracy sets).
REP_MISMATCH = 0.82
NUMBER_MISSING = 0.8  # the street exists, the number does not: answer the street
STREET_NOT_FOUND = 0.45  # a street was asked and not found: the commune alone
COMMUNE_ONLY = 0.9  # only a commune was asked, and it was found
NO_COMMUNE_HINT = 0.85  # neither postcode nor city: a street found anywhere
POSTCODE_ONLY = 0.99  # postcode without city name (or city contradicting it)
TYPE_DIFFERS = 0.85  # "avenue X" asked, only "rue X" exists
TYPE_MISSING = 0.95  # "12 Villette" for "12 boulevard de la Villette"
CITY_FUZZY_CUTOFF = 82.0
# A postcode, citycode or commune given is evidence, not a wall: a street outside it scores
# this factor when it is within NEAR_M of the communes given ("just across the line"),
# the lower one farther away (same city or département).
ACROSS_NEAR = 0.92
ACROSS_FAR = 0.8
NEAR_M = 3000.0
# A number missing from the BAN placed between its neighbours of the same parity, when they
# are at most MAX_NUMBER_GAP numbers and MAX_SPAN_M metres apart (or at the nearest one
# when it is at most MAX_NUMBER_REACH away, past the end of the street).
INTERPOLATED = 0.85
MAX_NUMBER_GAP = 40
MAX_NUMBER_REACH = 4
MAX_SPAN_M = 400.0
# Spelling by ear ("rue Polonso"): the sound key is compared when spelling finds nothing
# closer than PHONETIC_BELOW; a sound match scores at most PHONETIC.
PHONETIC = 0.88  # below ACROSS_NEAR: the exact name across the line wins
PHONETIC_BELOW = 0.85
# Beyond this many streets in a scope, the fuzzy pass is skipped (a national search
# without any commune hint would cost tens of milliseconds per address).
MAX_FUZZY_STREETS = 60_000


@dataclass(frozen=True, slots=True)
class _Scope:
    """Communes an address is searched in, and how sure we are of them (0..1)."""

    citycodes: frozenset[str] | None  # None: everywhere
    factor: float


@dataclass(slots=True)
class _StreetHit:
    street: int
    score: float


_Attempt = tuple[str, list["_Scope"], bool]


@dataclass(frozen=True, slots=True)
class _Asked:
    """The communes the user named, and how, to say when the answer lies elsewhere."""

    codes: frozenset[str]
    what: str  # "postcode 75008", "citycode 93010", "the commune 'Bondy'"

    def differs(self, found: Candidate) -> str:
        """The note for a candidate outside the communes given."""
        return f"{self.what} given, but found in {found.postcode} {found.city}"


def _asked(parsed: ParsedAddress, citycode: str | None, scopes: list[_Scope]) -> _Asked | None:
    """The communes given (the most specific scope) and how they were given."""
    first = scopes[0].citycodes if scopes else None
    what = _named(parsed, citycode)
    return None if first is None or what is None else _Asked(first, what)


def _named(parsed: ParsedAddress, citycode: str | None) -> str | None:
    """How the query names its commune: "citycode 93010", "postcode 75008", "the commune 'X'"."""
    if citycode and citycode.strip():
        return f"citycode {citycode.strip().upper()}"
    if parsed.postcode:
        return f"postcode {parsed.postcode}"
    if parsed.city:
        return f"the commune {parsed.city!r}"
    return None


class LocalGeocoder:
    """Offline BAN geocoder over in-memory tables (see ``tables.build_tables``)."""

    name = "local"
    capabilities = Capabilities(in_process=True, street_points=True)

    def __init__(self, streets: StreetTable, addresses: AddressTable) -> None:
        self._streets = streets
        self._addresses = addresses
        self._ix = index_streets(streets)
        self._rep_canon = [canonical_rep(r) for r in addresses.rep_table]
        # Built on first use, per street: (number, canonical rep) -> address positions.
        self._numbers: list[dict[tuple[int, str], list[int]] | None] = [None] * len(streets)
        self._fuzzy_cache: dict[frozenset[str] | None, tuple[Pool, Pool]] = {}
        self._sound_cache: dict[frozenset[str] | None, Pool] = {}
        self._asked_points: dict[
            frozenset[str], tuple[NDArray[np.float64], NDArray[np.float64]]
        ] = {}
        self._parse = lru_cache(maxsize=4096)(parse_address)

    # ------------------------------------------------------------------ public API

    @property
    def street_count(self) -> int:
        """Number of streets loaded."""
        return len(self._streets.name)

    @property
    def address_count(self) -> int:
        """Number of address points loaded."""
        return len(self._addresses.numero)

    def has_commune(self, citycode: str) -> bool:
        """Whether the commune (or, for Paris/Lyon/Marseille, an arrondissement) is loaded."""
        if citycode in self._ix.commune_streets:
            return True
        return any(a in self._ix.commune_streets for a in ARRONDISSEMENTS.get(citycode, ()))

    @property
    def tables(self) -> tuple[StreetTable, AddressTable, StreetIndex]:
        """The street and address tables and their lookups (completion, reverse geocoding)."""
        return self._streets, self._addresses, self._ix

    def street_candidate(self, street: int, number: HouseNumber | None, score: float) -> Candidate:
        """A street's candidate for a house number (or the street), as ``search`` makes it."""
        return self._numbered(street, number, score)[0]

    def address_candidate(self, street: int, address: int, score: float) -> Candidate:
        """The candidate of one address point of a street."""
        return self._address_candidate(street, address, score)

    def commune_candidate(self, citycode: str, score: float) -> Candidate | None:
        """The municipality candidate of a loaded commune, None when it is not loaded."""
        if citycode not in self._ix.commune_streets:
            return None
        return self._commune_candidates(_Scope(frozenset([citycode]), 1.0), score, 1)[0]

    def street_points(
        self, candidate: Candidate
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Lon/lat arrays of every address point of the candidate's street (empty if unknown)."""
        streets: list[int] = []
        if candidate.street and candidate.citycode:
            norm = normalize_street(candidate.street)
            for code in (candidate.citycode, *ARRONDISSEMENTS.get(candidate.citycode, ())):
                streets.extend(self._ix.by_city_norm.get((code, norm), ()))
        if not streets:
            return np.empty(0, dtype=np.float64), np.empty(0, dtype=np.float64)
        parts = [np.arange(self._streets.start[s], self._streets.end[s]) for s in streets]
        idx = np.concatenate(parts)
        return self._addresses.lon[idx], self._addresses.lat[idx]

    async def geocode(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        """Geocode one address (CPU work inline: a fraction of a millisecond)."""
        return self.result(query, limit)

    async def geocode_many(
        self, queries: Sequence[AddressQuery], limit: int = 1
    ) -> list[GeocodeResult]:
        """Geocode many addresses, in order."""
        return [self.result(q, limit) for q in queries]

    def result(self, query: AddressQuery, limit: int = 5) -> GeocodeResult:
        """The candidates, or why there are none when the commune named is not loaded."""
        candidates = self.search(query, limit)
        return GeocodeResult(candidates, uncovered=None if candidates else self.uncovered(query))

    def uncovered(self, query: AddressQuery) -> str | None:
        """Which commune named by the query the tables do not cover, in words, or None."""
        parsed = self._parsed(query)
        named = _named(parsed, query.citycode)
        if named is None or self._scopes(parsed, query.citycode):
            return None
        return (
            f"The local geocoder's tables do not cover {named} (they hold "
            f"{len(self._ix.commune_streets)} communes: import its BAN file)"
        )

    async def aclose(self) -> None:
        """Nothing to release: everything is in memory."""

    # ------------------------------------------------------------------ matching

    def search(self, query: AddressQuery, limit: int = 5) -> list[Candidate]:
        """Ranked candidates for one query (synchronous core of :meth:`geocode`)."""
        parsed = self._parsed(query)
        number = parsed.housenumber
        scopes = self._scopes(parsed, query.citycode)
        named = bool(parsed.postcode or query.citycode or parsed.city)
        if not scopes and named:
            return []  # a commune was named and it is not loaded
        if not parsed.street:
            if not scopes or (number is not None and parsed.city is None and not parsed.postcode):
                return []
            return self._commune_candidates(scopes[0], COMMUNE_ONLY, limit)
        if not scopes and number is None:
            # "Paris 19e", "Bondy": the whole text is a commune.
            whole = self._ix.city_names.get(normalize_city(parsed.street))
            if whole:
                return self._commune_candidates(_Scope(frozenset(whole), 1.0), COMMUNE_ONLY, limit)
        asked = _asked(parsed, query.citycode, scopes)
        attempts = self._attempts(parsed.street, scopes)
        for text_, scopes_, exact_only in attempts:
            key = street_key(normalize_street(text_))
            if not key:
                continue
            hits = self._hits(key, scopes_, exact_only)
            if asked is not None:
                hits = self._across(hits, key, asked, number)
            if hits:
                return self._rank(hits, number, limit, text_, asked)
        fallback = next((sc for _, scs, _ in attempts for sc in scs if sc.citycodes), None)
        if fallback is None:
            return []
        return self._commune_candidates(fallback, STREET_NOT_FOUND, limit)

    def _attempts(self, street_text: str, scopes: list[_Scope]) -> list[_Attempt]:
        """(street text, communes, exact keys only) to try in order; the first finding wins."""
        everywhere = [_Scope(None, NO_COMMUNE_HINT)]
        within = scopes or everywhere
        attempts: list[_Attempt] = []
        split = self._split_trailing_city(street_text)
        if split is not None:
            # "12 rue de la Paix Paris": the last words may be the city, unless the
            # whole text is a street name ("12 rue de Bondy"): exact names first. With a
            # postcode given apart ("2 Allee Raphael Bondy" + 93140, as when a file's street
            # and city columns are joined) the city words must go all the same.
            attempts.append((street_text, within, True))
            attempts.append((split[0], scopes or [split[1]], False))
        attempts.append((street_text, within, False))
        return attempts

    def _hits(self, key: str, scopes: list[_Scope], exact_only: bool) -> list[_StreetHit]:
        """The streets of the first scope that has any, scored by name and scope."""
        for scope in scopes:
            hits = self._find_streets(key, scope, exact_only)
            if hits:
                return [_StreetHit(h.street, h.score * scope.factor) for h in hits]
        return []

    def _across(
        self, hits: list[_StreetHit], key: str, asked: _Asked, number: HouseNumber | None
    ) -> list[_StreetHit]:
        """Add the streets of exactly this name just outside the communes given.

        A postcode or commune is strong evidence, not a wall: the exact street (and number)
        across the line must get its chance against a fuzzy street inside. When the exact
        street is inside but lacks the number, only the same city's other arrondissements
        are searched (Paris streets are split by arrondissement).
        """
        inside = [h for h in hits if self._streets.citycode[h.street] in asked.codes]
        exact = [h for h in inside if h.score >= 1.0]
        if exact and (number is None or any(self._has_number(h.street, number) for h in exact)):
            return hits  # settled: the exact street (and number) in the communes given
        cities = {commune_code(c) for c in asked.codes}
        deps = {departement_of_citycode(c) for c in asked.codes}
        seen = {h.street for h in hits}
        added = []
        for s in self._ix.by_key.get(key, ()):
            code = self._streets.citycode[s]
            if s in seen or code in asked.codes:
                continue
            if commune_code(code) in cities or (
                not exact and departement_of_citycode(code) in deps
            ):
                added.append(_StreetHit(s, 1.0))
        return hits + added if added else hits

    def _has_number(self, street: int, number: HouseNumber) -> bool:
        addr, rep_ok = self._find_number(street, number)
        return addr is not None and rep_ok

    def _across_factor(self, street: int, asked: _Asked) -> float:
        """How far outside the communes given a street is: just across the line, or farther."""
        points = self._asked_points.get(asked.codes)
        if points is None:
            members = [s for c in sorted(asked.codes) for s in self._ix.commune_streets.get(c, ())]
            points = (self._streets.lon[members], self._streets.lat[members])
            if len(self._asked_points) > 1024:
                self._asked_points.clear()
            self._asked_points[asked.codes] = points
        lon, lat = points
        if not len(lon):
            return ACROSS_FAR
        # Equirectangular metres: plenty for "within a few kilometres".
        kx = 111_320.0 * np.cos(np.radians(float(self._streets.lat[street])))
        dx = (lon - self._streets.lon[street]) * kx
        dy = (lat - self._streets.lat[street]) * 110_540.0
        nearest = float(np.sqrt(np.min(dx * dx + dy * dy)))
        return ACROSS_NEAR if nearest <= NEAR_M else ACROSS_FAR

    def _parsed(self, query: AddressQuery) -> ParsedAddress:
        if query.q and query.q.strip():
            parsed = self._parse(query.q)
            return ParsedAddress(
                parsed.housenumber or parse_housenumber(query.numero),
                parsed.street or (query.voie or "").strip(),
                parsed.postcode or _postcode(query.code_postal),
                parsed.city or (query.commune or "").strip() or None,
            )
        number = parse_housenumber(query.numero)
        voie = (query.voie or "").strip()
        if number is None and voie:
            # "12 bis rue X" given whole in the street field.
            inner = self._parse(voie)
            if inner.housenumber is not None and inner.street:
                number, voie = inner.housenumber, inner.street
        return ParsedAddress(
            number, voie, _postcode(query.code_postal), (query.commune or "").strip() or None
        )

    def _scopes(self, parsed: ParsedAddress, citycode: str | None) -> list[_Scope]:
        """Commune restrictions to try, most specific first."""
        scopes: list[_Scope] = []
        if citycode and citycode.strip():
            codes = self._known(
                (citycode.strip().upper(), *ARRONDISSEMENTS.get(citycode.strip(), ()))
            )
            if codes:
                scopes.append(_Scope(codes, 1.0))
        by_city: tuple[frozenset[str], float] | None = None
        if parsed.city:
            by_city = self._resolve_city(parsed.city)
        if parsed.postcode:
            codes = frozenset(self._ix.postcode_communes.get(parsed.postcode, ()))
            if codes:
                if by_city and codes & by_city[0]:
                    scopes.append(_Scope(codes & by_city[0], 1.0))
                    scopes.append(_Scope(codes, POSTCODE_ONLY))
                else:
                    scopes.append(_Scope(codes, POSTCODE_ONLY))
            elif by_city is None:
                # A mistyped or unknown postcode: its département still narrows the search.
                dep = parsed.postcode[:2]
                codes = frozenset(c for c in self._ix.commune_streets if c.startswith(dep))
                if codes:
                    scopes.append(_Scope(codes, 0.9))
        if by_city:
            scopes.append(_Scope(by_city[0], by_city[1]))
        # Drop repeats, keeping the first (best) factor.
        seen: set[frozenset[str] | None] = set()
        unique = []
        for s in scopes:
            if s.citycodes not in seen:
                seen.add(s.citycodes)
                unique.append(s)
        return unique

    def _known(self, codes: Sequence[str]) -> frozenset[str]:
        return frozenset(c for c in codes if c in self._ix.commune_streets)

    def _resolve_city(self, city: str) -> tuple[frozenset[str], float] | None:
        key = normalize_city(city)
        if not key:
            return None
        exact = self._ix.city_names.get(key)
        if exact:
            return frozenset(exact), 1.0
        best = process.extractOne(
            key, self._ix.city_keys, scorer=fuzz.ratio, score_cutoff=CITY_FUZZY_CUTOFF
        )
        if best is None:
            return None
        return frozenset(self._ix.city_names[best[0]]), float(best[1]) / 100.0

    def _split_trailing_city(self, street_text: str) -> tuple[str, _Scope] | None:
        words = street_text.split()
        # The city is at most four words, and something must remain for the street.
        for n in range(min(4, len(words) - 1), 0, -1):
            tail = " ".join(words[-n:])
            codes = self._ix.city_names.get(normalize_city(tail))
            if codes:
                return " ".join(words[:-n]), _Scope(frozenset(codes), 1.0)
        return None

    def _in_scope(self, streets: list[int], scope: _Scope) -> list[int]:
        if scope.citycodes is None:
            return streets
        codes = scope.citycodes
        return [s for s in streets if self._streets.citycode[s] in codes]

    def _find_streets(self, key: str, scope: _Scope, exact_only: bool = False) -> list[_StreetHit]:
        exact = self._in_scope(self._ix.by_key.get(key, []), scope)
        if exact or exact_only:
            return [_StreetHit(s, 1.0) for s in exact]
        # No exact key: gather the name without its type word and fuzzy neighbours, and
        # let the house number decide between close ones (see _rank).
        hits: dict[int, float] = {}
        query_type = street_type(key)
        notype = strip_type(key)
        loose_factor = TYPE_MISSING if query_type is None else TYPE_DIFFERS
        for s in self._in_scope(self._ix.by_notype.get(notype, []), scope):
            hits[s] = loose_factor
        full, bare = self._fuzzy_pools(scope)
        passes = [(key, full, 1.0)]
        if query_type is None:
            # No type typed ("12 Villette"): compare with names stripped of theirs too.
            passes.append((notype, bare, TYPE_MISSING))
        for query, pool, factor in passes:
            _gather(hits, pool, query, factor)
        if max(hits.values(), default=0.0) < PHONETIC_BELOW:
            _gather(hits, self._sound_pool(scope), sound_key(key), PHONETIC)
        return [_StreetHit(s, v) for s, v in hits.items()]

    def _fuzzy_pools(self, scope: _Scope) -> tuple[Pool, Pool]:
        """Street keys of a scope, with and without their type word, for fuzzy matching."""
        cached = self._fuzzy_cache.get(scope.citycodes)
        if cached is not None:
            return cached
        full: dict[str, list[int]] = {}
        bare: dict[str, list[int]] = {}
        for s in self._scope_streets(scope):
            full.setdefault(self._ix.keys[s], []).append(s)
            bare.setdefault(strip_type(self._ix.keys[s]), []).append(s)
        result = (Pool(full), Pool(bare))
        if len(self._fuzzy_cache) > 4096:
            self._fuzzy_cache.clear()
        self._fuzzy_cache[scope.citycodes] = result
        return result

    def _sound_pool(self, scope: _Scope) -> Pool:
        """Sound keys of a scope's streets, built the first time spelling is not enough."""
        pool = self._sound_cache.get(scope.citycodes)
        if pool is None:
            sound: dict[str, list[int]] = {}
            for s in self._scope_streets(scope):
                sound.setdefault(sound_key(self._ix.keys[s]), []).append(s)
            if len(self._sound_cache) > 4096:
                self._sound_cache.clear()
            pool = self._sound_cache[scope.citycodes] = Pool(sound)
        return pool

    def _scope_streets(self, scope: _Scope) -> Sequence[int]:
        """The streets of a scope, none when too many to compare one by one."""
        streets: Sequence[int]
        if scope.citycodes is None:
            streets = range(len(self._ix.keys))
        else:
            streets = [
                s for c in sorted(scope.citycodes) for s in self._ix.commune_streets.get(c, ())
            ]
        return streets if len(streets) <= MAX_FUZZY_STREETS else []

    def _number_index(self, street: int) -> dict[tuple[int, str], list[int]]:
        index = self._numbers[street]
        if index is None:
            index = {}
            start, end = int(self._streets.start[street]), int(self._streets.end[street])
            numeros = self._addresses.numero[start:end].tolist()
            reps = self._addresses.rep[start:end].tolist()
            canon = self._rep_canon
            for a, numero, rep in zip(range(start, end), numeros, reps, strict=True):
                index.setdefault((numero, canon[rep]), []).append(a)
            self._numbers[street] = index
        return index

    def _rank(
        self,
        hits: list[_StreetHit],
        number: HouseNumber | None,
        limit: int,
        typed: str,
        asked: _Asked | None,
    ) -> list[Candidate]:
        # Each street scored for what it matched: name, commune given or not, number.
        weighted = [(h, self._commune_factor(h.street, asked)) for h in hits]
        best = max(h.score * f for h, f in weighted)
        # Near-ties only: a far weaker fuzzy street never outranks the number found on a
        # good one, but two equally good streets both get their chance at the number.
        weighted = [(h, f) for h, f in weighted if h.score * f >= best - 0.12]
        out: list[tuple[float, int, bool, float, Candidate]] = []
        # Tie-break on the name as typed: a commune publishing "Av X" and "Avenue X" as two
        # streets, the spelling typed picks one.
        folded = fold(typed) if len(weighted) > 1 else ""
        for h, factor in weighted:
            cand, rank = self._numbered(h.street, number, TOP_SCORE * h.score * factor)
            if factor < 1.0 and asked is not None:
                cand = _noted(cand, NoteKind.COMMUNE_DIFFERS, asked.differs(cand))
            out.append((cand.score, rank, factor < 1.0, self._spelling(folded, h.street), cand))
        out.sort(key=lambda t: (-t[0], t[1], t[2], -t[3]))
        ranked = _dedupe([t[4] for t in out])[:limit]
        return _several_communes(ranked) if asked is None else ranked

    def _commune_factor(self, street: int, asked: _Asked | None) -> float:
        if asked is None or self._streets.citycode[street] in asked.codes:
            return 1.0
        return self._across_factor(street, asked)

    def _numbered(
        self, street: int, number: HouseNumber | None, base: float
    ) -> tuple[Candidate, int]:
        """The street's candidate for the number asked, and its rank among equal scores:
        0 the number found, 1 found with another index or interpolated, 2 the street."""
        if number is None:
            return self._street_candidate(street, base), 2
        addr, rep_ok = self._find_number(street, number)
        if addr is not None:
            cand = self._address_candidate(street, addr, base * (1.0 if rep_ok else REP_MISMATCH))
            if rep_ok:
                return cand, 0
            detail = (
                f"{_number_label(number)} is not in the BAN on this street: "
                f"matched {cand.housenumber} instead"
            )
            return _noted(cand, NoteKind.INDEX_DIFFERS, detail), 1
        placed = self._interpolated(street, number, base * INTERPOLATED)
        if placed is not None:
            return placed, 1
        cand = self._street_candidate(street, base * NUMBER_MISSING)
        detail = (
            f"number {_number_label(number)} is not in the BAN and has no close neighbour "
            "on the same side of the street: the street only"
        )
        return _noted(cand, NoteKind.NUMBER_MISSING, detail), 2

    def _interpolated(self, street: int, number: HouseNumber, score: float) -> Candidate | None:
        """The number placed between its nearest neighbours of the same parity, if close."""
        index = self._number_index(street)
        n = number.number
        same_side = sorted({num for num, _ in index if num % 2 == n % 2})
        i = bisect_left(same_side, n)
        lo = same_side[i - 1] if i > 0 else None
        hi = same_side[i] if i < len(same_side) else None
        if lo is not None and hi is not None and hi - lo <= MAX_NUMBER_GAP:
            a, b = _plain(index, lo), _plain(index, hi)
            t = (n - lo) / (hi - lo)
            where = f"between {lo} and {hi}"
        else:
            near = [k for k in (lo, hi) if k is not None and abs(k - n) <= MAX_NUMBER_REACH]
            if not near:
                return None
            a = b = _plain(index, near[0])
            t = 0.0
            where = f"at its nearest neighbour {near[0]}"
        ax, ay = float(self._addresses.lon[a]), float(self._addresses.lat[a])
        bx, by = float(self._addresses.lon[b]), float(self._addresses.lat[b])
        if _metres(ax, ay, bx, by) > MAX_SPAN_M:
            return None  # neighbours too far apart for a straight line between them
        base = self._street_candidate(street, score)
        label = _number_label(number)
        note = MatchNote(
            NoteKind.NUMBER_INTERPOLATED,
            f"{label} is not in the BAN: placed {where} on the same side of the street",
        )
        return replace(
            base,
            label=f"{label} {base.label}",
            type=MatchType.INTERPOLATED,
            lon=round(ax + t * (bx - ax), 6),
            lat=round(ay + t * (by - ay), 6),
            housenumber=label,
            id=None,
            notes=(note,),
            bounds=((ax, ay), (bx, by)) if a != b else ((ax, ay),),
        )

    def _spelling(self, folded: str, street: int) -> float:
        return fuzz.ratio(folded, fold(self._streets.name[street])) if folded else 0.0

    def _find_number(self, street: int, number: HouseNumber) -> tuple[int | None, bool]:
        index = self._number_index(street)
        found = index.get((number.number, number.rep))
        if found:
            return found[0], True
        # "12 bis" asked and only "12" exists, or "12" asked and only "12 bis": the same
        # building in practice, at a lower score.
        if number.rep:
            plain = index.get((number.number, ""))
            if plain:
                return plain[0], False
        for (num, _rep), addrs in index.items():
            if num == number.number:
                return addrs[0], False
        return None, False

    def _address_candidate(self, street: int, addr: int, score: float) -> Candidate:
        rep = self._rep_canon[self._addresses.rep[addr]]
        housenumber = f"{int(self._addresses.numero[addr])}{_REP_LABEL.get(rep, rep)}"
        city = self._ix.city[street]
        postcode = self._streets.postcode[street]
        return Candidate(
            label=f"{housenumber} {self._streets.name[street]} {postcode} {city}",
            score=round(score, 4),
            type=MatchType.HOUSENUMBER,
            lon=float(self._addresses.lon[addr]),
            lat=float(self._addresses.lat[addr]),
            citycode=self._streets.citycode[street],
            postcode=postcode,
            city=city,
            street=self._streets.name[street],
            housenumber=housenumber,
            id=self._address_id(street, addr),
        )

    def _address_id(self, street: int, addr: int) -> str:
        known = self._addresses.id_exceptions.get(addr)
        if known is not None:
            return known
        return derived_id(
            self._streets.ban_id[street] or "",
            int(self._addresses.numero[addr]),
            self._addresses.rep_table[self._addresses.rep[addr]],
        )

    def _street_candidate(self, street: int, score: float) -> Candidate:
        city = self._ix.city[street]
        postcode = self._streets.postcode[street]
        return Candidate(
            label=f"{self._streets.name[street]} {postcode} {city}",
            score=round(score, 4),
            type=MatchType.STREET,
            lon=float(self._streets.lon[street]),
            lat=float(self._streets.lat[street]),
            citycode=self._streets.citycode[street],
            postcode=postcode,
            city=city,
            street=self._streets.name[street],
            id=self._streets.ban_id[street],
        )

    def _commune_candidates(self, scope: _Scope, base: float, limit: int) -> list[Candidate]:
        if scope.citycodes is None:
            return []
        score = round(base * scope.factor, 4)
        out = []
        for code in sorted(scope.citycodes)[:limit]:
            lon, lat = self._ix.commune_point[code]
            first = self._ix.commune_streets[code][0]
            city = self._ix.city[first]
            name = self._ix.commune_name[code]
            out.append(
                Candidate(
                    label=name,
                    score=score,
                    type=MatchType.MUNICIPALITY,
                    lon=lon,
                    lat=lat,
                    citycode=code,
                    postcode=self._streets.postcode[first],
                    city=city,
                    id=code,
                )
            )
        return out


# BAN labels: "12bis", "12ter"; Paris publishes one-letter indexes ("12b") that we keep.
_REP_LABEL = {"b": "bis", "t": "ter", "q": "quater"}


def _postcode(value: str | None) -> str | None:
    if not value:
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 4:
        digits = "0" + digits  # "1000" for 01000: spreadsheets drop the leading zero
    return digits if len(digits) == 5 else None


def _gather(hits: dict[int, float], pool: Pool, query: str, factor: float) -> None:
    """Raise ``hits`` to the pool's similarities to ``query`` (times ``factor``)."""
    for idx, score in pool.extract(query):
        sim = score * factor
        for s in pool.groups[idx]:
            if sim > hits.get(s, 0.0):
                hits[s] = sim


def _noted(candidate: Candidate, kind: NoteKind, detail: str) -> Candidate:
    return replace(candidate, notes=(*candidate.notes, MatchNote(kind, detail)))


_WHAT = {MatchType.HOUSENUMBER: "address", MatchType.STREET: "street"}


def _several_communes(ranked: list[Candidate]) -> list[Candidate]:
    """No commune given: say so when the best address exists in several communes."""
    if not ranked:
        return ranked
    best = ranked[0]
    tied = [c for c in ranked if c.score == best.score and c.type is best.type]
    places = sorted({f"{c.postcode} {c.city}" for c in tied})
    if len(places) < 2:
        return ranked
    detail = (
        f"no postcode or commune given, and the same {_WHAT.get(best.type, 'place')} exists in "
        f"{len(places)} communes ({', '.join(places)}): give the postcode to choose"
    )
    return [_noted(best, NoteKind.SEVERAL_COMMUNES, detail), *ranked[1:]]


def _number_label(number: HouseNumber) -> str:
    return f"{number.number}{_REP_LABEL.get(number.rep, number.rep)}"


def _plain(index: dict[tuple[int, str], list[int]], number: int) -> int:
    """The address of ``number`` without index if it has one, else with its first index."""
    plain = index.get((number, ""))
    if plain:
        return plain[0]
    return next(addrs[0] for (num, _), addrs in index.items() if num == number)


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    kx = 111_320.0 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lon2 - lon1) * kx, (lat2 - lat1) * 110_540.0)


def _dedupe(candidates: list[Candidate]) -> list[Candidate]:
    seen: set[tuple[str | None, str]] = set()
    out = []
    for c in candidates:
        key = (c.id, c.label)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
