"""The lines people write around an address, recognised and set aside.

A postal address carries more than a geocoder can match: the recipient, the flat, the
staircase, the building, the residence, a lieu-dit, a BP / CS / TSA box, a CEDEX office,
laid out on up to seven lines (AFNOR NF Z10-011: 1 recipient, 2 flat / floor / "chez",
3 building / residence / entrance, 4 number and street, 5 lieu-dit or special
distribution, 6 postcode and locality, 7 country). Here each one is recognised, taken out
of the text sent to the geocoders and returned, so that the answer can say what was set
aside. Everything is pure: the same text always gives the same split.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from app.codes import arrondissement_postcode
from app.folding import fix_mojibake, fold
from app.geocoding.base import AddressQuery
from app.geocoding.vocabulary import STREET_TYPES

# Words that open a complement line (AFNOR lines 2 and 3) or the recipient line (1).
_COMPLEMENT_WORDS = frozenset(
    {
        "bat", "batiment", "batiments", "bt", "imm", "immeuble", "tour", "bloc", "pavillon",
        "aile", "residence", "res", "resid", "esc", "escalier", "entree", "ent", "hall",
        "porte", "appt", "apt", "app", "appart", "appartement", "logement", "log", "lgt",
        "chambre", "studio", "etage", "etg", "rdc", "chez", "c o", "co", "cidex",
        "lieu dit", "lieudit", "ld", "m", "mme", "mr", "mlle", "monsieur",
        "madame", "mademoiselle", "mm", "famille", "societe", "sarl", "sas",
    }
)  # fmt: skip
# Complement words also recognised after the street ("4 rue X appt 12"): none of them is
# a common word of a street name.
_TRAILING_WORDS = frozenset(
    {
        "bat", "batiment", "bt", "imm", "immeuble", "residence", "resid", "esc",
        "escalier", "entree", "appt", "apt", "appart", "appartement", "logement", "lgt",
        "etage", "etg", "rdc", "chez", "lieu dit", "lieudit", "cidex",
    }
)  # fmt: skip
# Words after which everything up to the postcode belongs to the complement (a name).
_NAMED = frozenset({"residence", "resid", "chez", "lieu dit", "lieudit"})
# Street types that start a street line on their own (no number): the unambiguous ones.
_STRICT_TYPES = frozenset(
    {
        "rue", "r", "avenue", "av", "ave", "boulevard", "bd", "bld", "allee", "place", "pl",
        "impasse", "imp", "chemin", "ch", "route", "rte", "quai", "square", "sq", "passage",
        "cours", "villa", "sentier", "sente", "ruelle", "esplanade", "promenade", "faubourg",
        "fg", "cite",
    }
)  # fmt: skip
_NUMBER = re.compile(r"^\d{1,5}(?:bis|ter|quater|[a-z]{1,2}\d?)?$")
# Repetition indexes: bis, ter..., and the letters (with a digit) Paris publishes ("12 z").
_REP = re.compile(r"^(?:bis|ter|quater|quinquies|[a-z]{1,2}\d?)$")
_ORDINAL = re.compile(r"^\d{1,2}(?:e|er|eme|em|ieme|ere|nd|nde)$")
_POSTCODE_TOKEN = re.compile(r"^\d{5}$")
# Special distribution (AFNOR line 5): "BP 123", "B.P. 45", "CS 70001", "TSA 12345"; not
# right after a number ("59 bp4" is a Paris repetition index).
_SPECIAL = re.compile(
    r"(?<![\w])(?<!\d\s)(?:b\.?\s?p\.?|c\.?\s?s\.?|t\.?\s?s\.?\s?a\.?)\s*(?:n°\s*)?\d{1,5}(?![\w])",
    re.IGNORECASE,
)
# "75700 PARIS CEDEX 07", "93141 Bondy Cedex": a CEDEX office after a postcode and city.
_CEDEX_AFTER = re.compile(
    r"(?<!\d)(\d{5})(\s*[\s,]\s*)([^\d,\n]*?[^\W\d_][^\d,\n]*?)\s+cedex(?:\s*(\d{1,2}))?(?![\w])",
    re.IGNORECASE,
)
_CEDEX = re.compile(r"(?<![\w])cedex(?:\s*\d{1,2})?(?![\w])", re.IGNORECASE)
_LINE_POSTCODE = re.compile(r"^\s*(?:\d{5}|\d{2}\s\d{3})(?!\d)")
# "Lieu dit" in two words: one token, like "Lieu-dit".
_LIEU_DIT = re.compile(r"\b(lieu)\s+(dit)\b", re.IGNORECASE)
_REPEATED_COMMAS = re.compile(r",(?:\s*,)+")
_ARTICLES = frozenset({"de", "du", "des", "d", "la", "le", "les", "l"})
_COUNTRY = frozenset({"france", "france metropolitaine"})


# Words without which no step sets anything aside (see _may_hold_lines).
_TRIGGERS = frozenset(
    {w for w in _COMPLEMENT_WORDS | _TRAILING_WORDS if " " not in w} | {"lieu", "cedex", "c", "o"}
)


@dataclass(frozen=True, slots=True)
class AddressLines:
    """An address reduced to number, street, postcode and city, and the parts set aside."""

    text: str
    set_aside: tuple[str, ...] = ()


KnownPostcode = Callable[[str], bool]


def split_lines(text: str, known_postcode: KnownPostcode | None = None) -> AddressLines:
    """Set aside recipient, flat, building, residence, lieu-dit, BP/CS and CEDEX parts.

    ``known_postcode`` (La Poste's base) tells a CEDEX code from a distribution postcode.
    """
    if known_postcode is None:
        return _split_cached(fix_mojibake(text))
    return _split(fix_mojibake(text), known_postcode)


@lru_cache(maxsize=16384)
def _split_cached(text: str) -> AddressLines:
    return _split(text, None)


def _split(text: str, known_postcode: KnownPostcode | None) -> AddressLines:
    if not _may_hold_lines(text):
        # The common case, a plain address: the same result as below, five times faster.
        one = _REPEATED_COMMAS.sub(",", " ".join(text.split())).strip(" ,;-")
        return AddressLines("" if fold(one) in _COUNTRY else one)
    aside: list[str] = []
    text = _LIEU_DIT.sub(lambda m: f"{m.group(1)}-{m.group(2)}", text)
    lines = [line.strip(" \t,;") for line in re.split(r"[\r\n]+", text)]
    lines = [line for line in lines if line and fold(line) not in _COUNTRY]
    one = _layout(lines, aside) if len(lines) > 1 else (lines[0] if lines else "")
    one = _SPECIAL.sub(lambda m: _keep(aside, m.group(0)), one)
    one = _cedex(one, aside, known_postcode)
    one = _complements(one, aside)
    one = _REPEATED_COMMAS.sub(",", " ".join(one.split()))
    # In the order they were written, whichever step recognised them.
    aside.sort(key=lambda part: _position(text, part))
    return AddressLines(one.strip(" ,;-"), tuple(aside))


def _may_hold_lines(text: str) -> bool:
    """Whether any step below could set something aside (a cheap test on words)."""
    if "\n" in text or "\r" in text or _SPECIAL.search(text):
        return True
    return not _TRIGGERS.isdisjoint(fold(text).split())


def _position(text: str, part: str) -> int:
    found = text.find(part)
    return found if found >= 0 else len(text)


def _keep(aside: list[str], part: str) -> str:
    """Record ``part`` as set aside; a space to put in its place."""
    aside.append(" ".join(part.split()).strip(" ,;-"))
    return " "


def _layout(lines: list[str], aside: list[str]) -> str:
    """AFNOR multi-line input: the street line and the postcode line, the rest set aside."""
    post = max((i for i, line in enumerate(lines) if _LINE_POSTCODE.match(line)), default=None)
    body = lines if post is None else lines[:post]
    street = _street_line(body)
    if street is None:
        # No numbered street: a lieu-dit line (the last one not a complement) is the address.
        named = [i for i, line in enumerate(body) if not _is_complement(line)]
        street = named[-1] if named else None
    kept: list[str] = []
    for i, line in enumerate(lines):
        if i in (street, post):
            kept.append(line)
        elif post is None and street is not None and i > street and not _is_complement(line):
            kept.append(line)  # "4 rue X / Bondy": a city line without a postcode
        else:
            aside.append(line)
    if street is not None and len(kept) > 1 and post is None:
        return ", ".join(kept)
    return " ".join(kept)


def _street_line(lines: list[str]) -> int | None:
    """The line holding the number and street (AFNOR line 4), if one does."""
    scores = [_street_likeness(_tokens(line)) for line in lines]
    best = max(scores, default=0)
    if best == 0:
        return None
    return max(i for i, s in enumerate(scores) if s == best)


def _street_likeness(tokens: list[str]) -> int:
    """2: a number then a street type; 1: a street type or a number then a name; 0: neither."""
    if _core(tokens) is not None:
        return 2
    if tokens and (tokens[0] in _STRICT_TYPES or _lieu_dit_word(tokens[0])):
        return 1
    if len(tokens) > 1 and _NUMBER.match(tokens[0]) and tokens[1] not in _COMPLEMENT_WORDS:
        return 1 if not tokens[1].isdigit() else 0
    return 0


def _lieu_dit_word(token: str) -> bool:
    return token in ("lieu dit", "lieudit", "ld")


def _is_complement(line: str) -> bool:
    tokens = _tokens(line)
    return bool(tokens) and (tokens[0] in _COMPLEMENT_WORDS or _ordinal_floor(tokens, 0))


def _ordinal_floor(tokens: list[str], i: int) -> bool:
    """ "3e étage", "2eme etg": a floor given as an ordinal."""
    return (
        i + 1 < len(tokens)
        and _ORDINAL.match(tokens[i]) is not None
        and tokens[i + 1] in ("etage", "etg")
    )


def _tokens(text: str) -> list[str]:
    return [fold(t) for t in text.split()]


def _core(tokens: list[str]) -> int | None:
    """Where the address proper starts: a house number (and index) before a street type,
    or before one word and a street type ("23 Grande avenue de la Villa")."""
    for i, tok in enumerate(tokens):
        if not _NUMBER.match(tok):
            continue
        j = i + 1
        if j + 1 < len(tokens) and _REP.match(tokens[j]) and tokens[j + 1] in STREET_TYPES:
            j += 1
        if j < len(tokens) and tokens[j] in STREET_TYPES:
            return i
        if (
            j + 1 < len(tokens)
            and tokens[j + 1] in _STRICT_TYPES
            and tokens[j].isalpha()
            and tokens[j] not in _COMPLEMENT_WORDS
        ):
            return i
    return None


def _complements(text: str, aside: list[str]) -> str:
    """One line: complements before the number and street, and after the street."""
    raw = text.split()
    tokens = [fold(t) for t in raw]
    start = _core(tokens)
    if start is None:
        start = next((i for i, t in enumerate(tokens) if i and t in _STRICT_TYPES), None)
    if start is not None and start > 0 and _is_complement(text):
        aside.append(" ".join(raw[:start]).strip(" ,;-"))
        raw, tokens = raw[start:], tokens[start:]
    elif start is None and tokens and _lieu_dit_word(tokens[0]):
        # "Lieu-dit Les Forges 12345 X": the lieu-dit is the address; only the word goes.
        raw, tokens = raw[1:], tokens[1:]
    out: list[str] = []
    i = 0
    while i < len(raw):
        # After the number and street type only, and never right after an article
        # ("Rue de la Résidence" is a name).
        end = _trailing(tokens, i) if i > 1 and tokens[i - 1] not in _ARTICLES else i
        if end > i:
            aside.append(" ".join(raw[i:end]).strip(" ,;-"))
            if raw[end - 1].endswith(","):
                out.append(",")
            i = end
        else:
            out.append(raw[i])
            i += 1
    return " ".join(out)


def _trailing(tokens: list[str], i: int) -> int:
    """End of a complement starting at ``i`` after the street ("appt 12"), or ``i``."""
    if _ordinal_floor(tokens, i):
        return i + 2
    word = tokens[i]
    if word not in _TRAILING_WORDS:
        return i
    end = i + 1
    if word in _NAMED:
        # A name runs to the postcode, a comma or the end.
        while end < len(tokens) and not _POSTCODE_TOKEN.match(tokens[end]):
            end += 1
        return end
    if word in ("rdc", "etage", "etg"):
        return end
    if end < len(tokens) and tokens[end] in ("n", "no"):
        end += 1
    if end < len(tokens) and len(tokens[end]) <= 4 and not _POSTCODE_TOKEN.match(tokens[end]):
        end += 1
    return end


def _cedex(text: str, aside: list[str], known_postcode: KnownPostcode | None) -> str:
    """ "75700 PARIS CEDEX 07" -> "75007 PARIS"; "93141 Bondy Cedex" -> "Bondy"."""

    def replace(m: re.Match[str]) -> str:
        code, sep, city, office = m.group(1), m.group(2), m.group(3).strip(), m.group(4)
        aside.append(" ".join(m.group(0).split()))
        mapped = arrondissement_postcode(city, int(office)) if office else None
        if mapped is not None:
            return f"{mapped}{sep}{city}"
        if known_postcode is not None and not known_postcode(code):
            return city  # a CEDEX code is no place: the city says where
        return f"{code}{sep}{city}"

    text = _CEDEX_AFTER.sub(replace, text)
    return _CEDEX.sub(lambda m: _keep(aside, m.group(0)), text)


def clean_query(query: AddressQuery, known_postcode: KnownPostcode | None = None) -> AddressQuery:
    """The query with its extra lines set aside (in ``set_aside``), in ``q``, ``voie``,
    ``commune`` and ``code_postal``: a CEDEX code becomes the commune's, or is dropped."""
    aside: list[str] = list(query.set_aside)
    changes: dict[str, str | None] = {}
    for name in ("q", "voie"):
        value: str | None = getattr(query, name)
        if value:
            lines = split_lines(value, known_postcode)
            changes[name] = lines.text or None
            aside.extend(lines.set_aside)
    postcode, commune = query.code_postal, query.commune
    if commune and (m := _CEDEX.search(commune)):
        office = re.sub(r"\D", "", m.group(0))
        commune = " ".join(_CEDEX.sub(" ", commune).split()) or None
        aside.append(" ".join(m.group(0).split()))
        mapped = arrondissement_postcode(commune or "", int(office)) if office else None
        if mapped is not None:
            postcode = mapped
    if (
        postcode
        and postcode == query.code_postal
        and known_postcode is not None
        and not known_postcode(postcode.strip())
        and any("cedex" in part.lower() for part in aside)
    ):
        # Not in La Poste's base, and the address says CEDEX: the code names a sorting
        # office, not a place; the commune does.
        aside.append(f"code_postal {postcode.strip()} (CEDEX)")
        postcode = None
    changes.update(code_postal=postcode, commune=commune)
    return dataclasses.replace(query, **changes, set_aside=tuple(dict.fromkeys(aside)))
