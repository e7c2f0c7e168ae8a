"""Text normalisation and address parsing for the offline geocoder.

Everything here is pure and deterministic: the same function normalises the BAN names at
load time and the user's text at query time, so abbreviations, accents, case and
punctuation compare equal whichever way round they were written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from app.folding import fix_mojibake, fold

# Abbreviations (and common variants) -> the full word. Applied to both sides, so "Av." in
# the BAN and "avenue" typed by a user meet on "avenue". Street types first.
STREET_TYPES: dict[str, str] = {
    "allee": "allee",
    "all": "allee",
    "al": "allee",
    "avenue": "avenue",
    "av": "avenue",
    "ave": "avenue",
    "avn": "avenue",
    "boulevard": "boulevard",
    "bd": "boulevard",
    "bld": "boulevard",
    "blvd": "boulevard",
    "boul": "boulevard",
    "bvd": "boulevard",
    "chemin": "chemin",
    "ch": "chemin",
    "che": "chemin",
    "chem": "chemin",
    "cite": "cite",
    "cour": "cour",
    "cours": "cours",
    "crs": "cours",
    "esplanade": "esplanade",
    "esp": "esplanade",
    "faubourg": "faubourg",
    "fg": "faubourg",
    "fbg": "faubourg",
    "galerie": "galerie",
    "gal": "galerie",
    "hameau": "hameau",
    "ham": "hameau",
    "impasse": "impasse",
    "imp": "impasse",
    "lotissement": "lotissement",
    "lot": "lotissement",
    "passage": "passage",
    "pass": "passage",
    "pas": "passage",
    "place": "place",
    "pl": "place",
    "plc": "place",
    "promenade": "promenade",
    "prom": "promenade",
    "quai": "quai",
    "qu": "quai",
    "qua": "quai",
    "residence": "residence",
    "res": "residence",
    "rond": "rond",
    "route": "route",
    "rte": "route",
    "rt": "route",
    "rue": "rue",
    "r": "rue",
    "ruelle": "ruelle",
    "sente": "sente",
    "sentier": "sentier",
    "sen": "sentier",
    "square": "square",
    "sq": "square",
    "villa": "villa",
    "vla": "villa",
    "voie": "voie",
    "parvis": "parvis",
    "port": "port",
    "pont": "pont",
    "porte": "porte",
    "pte": "porte",
    "carrefour": "carrefour",
    "car": "carrefour",
    "carr": "carrefour",
    "chaussee": "chaussee",
    "chs": "chaussee",
    "domaine": "domaine",
    "dom": "domaine",
    "quartier": "quartier",
    "qrt": "quartier",
    "zone": "zone",
}
# Title and word abbreviations, expanded anywhere but in first position, where a street
# type wins ("Gal" first is a galerie, "Av du Gal Leclerc" a général).
WORDS: dict[str, str] = {
    "st": "saint",
    "ste": "sainte",
    "sts": "saints",
    "stes": "saintes",
    "gen": "general",
    "gal": "general",
    "gl": "general",
    "mal": "marechal",
    "marl": "marechal",
    "pdt": "president",
    "pres": "president",
    "dr": "docteur",
    "doct": "docteur",
    "pr": "professeur",
    "prof": "professeur",
    "cdt": "commandant",
    "cmdt": "commandant",
    "lt": "lieutenant",
    "ltn": "lieutenant",
    "cne": "capitaine",
    "cpt": "capitaine",
    "col": "colonel",
    "adj": "adjudant",
    "sgt": "sergent",
    "mgr": "monseigneur",
    "nd": "notre dame",
    "gd": "grand",
    "gde": "grande",
    "gds": "grands",
    "gdes": "grandes",
    "pt": "petit",
    "pte": "petite",
    "pts": "petits",
    "ptes": "petites",
    "vx": "vieux",
    "vve": "veuve",
    # "Rue du Fg Saint-Martin": faubourg is a name word after the type, too.
    "fg": "faubourg",
    "fbg": "faubourg",
    "faub": "faubourg",
}
# Articles and prepositions people drop or add ("bd Villette" for "boulevard de la
# Villette"); removed from the matching key, never from labels.
ARTICLES: frozenset[str] = frozenset(
    {"de", "du", "des", "d", "la", "le", "les", "l", "a", "au", "aux", "et", "en", "sur"}
)
# Repetition indexes: long forms to the one-letter form used by most of the BAN (Paris
# writes "b", other communes "bis"); other letters (a, b, c...) stay as they are.
REPETITIONS: dict[str, str] = {
    "bis": "b",
    "ter": "t",
    "quater": "q",
    "qua": "q",
    "quinquies": "c",
    "quin": "c",
}
_REP_WORDS = "|".join(sorted(REPETITIONS, key=len, reverse=True))

_POSTCODE = re.compile(r"(?<!\d)(\d{5})(?!\d)")
# House number at the start: "12", "12bis", "12 bis", "12B", "12-14" (first kept), "12/14".
_HOUSENUMBER = re.compile(
    rf"^\s*(\d{{1,5}})\s*(?:(?:[-/]|à|au)\s*\d{{1,5}}\s*)?"
    rf"(?:({_REP_WORDS})\b|([a-z])(?=\s|$|,)|([a-z]\d?)(?=\s*,))?[\s,.]*",
    re.IGNORECASE,
)
# A single letter after the number is a repetition index unless it is a street type
# abbreviation ("12 r de la Paix").
_LETTER_NOT_REP = frozenset({"r"})
_STARTS_LIKE_STREET = re.compile(r"^\s*\d+\s*(?:bis|ter|[a-z])?\s+\D")
_ORDINAL = re.compile(r"\b(\d{1,2})\s*(?:er|ere|e|eme|em|ieme|d|nd)\b")
_ARRONDISSEMENT = re.compile(r"\b(?:arrondissement|arrdt|arrt|arr|ardt)\b")
_CEDEX = re.compile(r"\bcedex\b(?:\s*\d{1,2})?")


def _expand(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for i, tok in enumerate(tokens):
        # Street types are only abbreviations in the first position ("r de la Paix"), or
        # as the first word after an article-free start; elsewhere "r", "ch", "lot" are
        # words of the name. Titles expand anywhere.
        if i == 0 and tok in STREET_TYPES:
            out.extend(STREET_TYPES[tok].split())
        elif tok in WORDS:
            out.extend(WORDS[tok].split())
        else:
            out.append(tok)
    return out


@lru_cache(maxsize=262144)
def normalize_street(name: str) -> str:
    """Canonical street name: "Bd St-Germain" -> "boulevard saint germain"."""
    return " ".join(_expand(fold(name).split()))


def street_key(normalized: str) -> str:
    """Matching key, articles dropped: "rue de la paix" -> "rue paix"."""
    tokens = [t for t in normalized.split() if t not in ARTICLES]
    return " ".join(tokens) if tokens else normalized


def street_type(normalized: str) -> str | None:
    """The street type word of a normalised name ("rue", "avenue"...), if it starts with one."""
    first = normalized.split(" ", 1)[0]
    return first if first in STREET_TYPES.values() else None


def strip_type(key: str) -> str:
    """A street key without its leading type word ("rue paix" -> "paix")."""
    head, _, rest = key.partition(" ")
    return rest if rest and head in _TYPE_WORDS else key


_TYPE_WORDS = frozenset(STREET_TYPES.values())


@lru_cache(maxsize=65536)
def normalize_city(name: str) -> str:
    """Canonical commune name: folded, "Saint"/"St" unified, arrondissements as a bare number.

    "Paris 19e Arrondissement", "PARIS 19", "paris 19ème" -> "paris 19";
    "Le Blanc-Mesnil" -> "blanc mesnil"; "St-Denis" -> "saint denis".
    """
    text = fold(name)
    text = _CEDEX.sub(" ", text)
    text = _ARRONDISSEMENT.sub(" ", text)
    text = _ORDINAL.sub(r"\1", text)
    tokens = [WORDS.get(t, t) for t in text.split()]
    # A leading article is part of the official name but often dropped when typed.
    if len(tokens) > 1 and tokens[0] in {"le", "la", "les", "l"}:
        tokens = tokens[1:]
    return " ".join(tokens)


@dataclass(frozen=True, slots=True)
class HouseNumber:
    """A parsed house number: the integer and the canonical repetition index ("" if none)."""

    number: int
    rep: str = ""

    def label(self) -> str:
        """The number with its canonical index: "12", "12 b"."""
        return f"{self.number} {self.rep}" if self.rep else str(self.number)


def canonical_rep(rep: str | None) -> str:
    """Canonical repetition index: "bis"/"B" -> "b", "ter" -> "t", "" when none."""
    if not rep:
        return ""
    folded = fold(rep).replace(" ", "")
    return REPETITIONS.get(folded, folded)


def parse_housenumber(text: str | None) -> HouseNumber | None:
    """Parse a house number field: "12", "12 bis", "12B", "12-14" -> HouseNumber or None."""
    if not text:
        return None
    folded = fix_mojibake(text).strip().lower()
    m = _HOUSENUMBER.match(folded)
    if not m:
        return None
    rest = folded[m.end() :].strip(" .,")
    rep = m.group(2) or m.group(3) or m.group(4) or ""
    if not rep and rest and len(rest) <= 8 and " " not in rest:
        # "12 quinquies", "12 a1": the field holds nothing but the number and its index.
        rep = rest
    return HouseNumber(int(m.group(1)), canonical_rep(rep))


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """A free-text address split into its parts (any of which may be missing)."""

    housenumber: HouseNumber | None
    street: str  # as typed, without number, postcode and city (may be empty)
    postcode: str | None
    city: str | None  # as typed; None when the text gives no recognisable city part


def _split_number(street_part: str) -> tuple[HouseNumber | None, str]:
    folded = fix_mojibake(street_part).strip()
    m = _HOUSENUMBER.match(folded)
    if not m:
        return None, street_part.strip(" ,")
    letter = m.group(3)
    if letter and letter.lower() in _LETTER_NOT_REP:
        # "12 r de la Paix": the letter is the street type, give it back to the street.
        number = HouseNumber(int(m.group(1)))
        return number, folded[m.start(3) :].strip(" ,")
    rep = m.group(2) or letter or m.group(4) or ""
    rest = folded[m.end() :].strip(" ,")
    if not rep:
        # Paris publishes two-letter indexes ("199 bv Boulevard Davout", "62bp Rue X"): a
        # short token right before a street type word is an index, not part of the name.
        head, _, tail = rest.partition(" ")
        following = fold(tail).split(" ", 1)[0] if tail else ""
        if (
            _SHORT_REP.fullmatch(head.lower())
            and head.lower() not in ARTICLES
            and head.lower() not in STREET_TYPES
            and head.lower() not in WORDS
            and following in STREET_TYPES
        ):
            rep, rest = head, tail.strip(" ,")
    return HouseNumber(int(m.group(1)), canonical_rep(rep)), rest


_SHORT_REP = re.compile(r"[a-z]{1,3}\d?")


def _looks_like_city(last: str, before: list[str]) -> bool:
    """Whether the last comma-separated part is a city, the parts before holding the street."""
    if _STARTS_LIKE_STREET.match(last) or re.match(r"^\s*\d", last):
        return False
    first_word = fold(last).split(" ", 1)[0]
    if first_word in STREET_TYPES:
        return False  # "12, rue X": the last part is the street
    # Something more than a bare house number must remain for the street.
    return any(_HAS_WORD.search(_HOUSENUMBER.sub("", p, count=1)) for p in before)


_HAS_WORD = re.compile(r"[^\W\d_]{2,}")


def parse_address(text: str) -> ParsedAddress:
    """Split free text: "12 bd de la Villette 75019 Paris", "12, rue X, Paris", "rue X 93140"."""
    text = _COUNTRY.sub("", fix_mojibake(text).strip())
    postcode: str | None = None
    city: str | None = None
    street_part = text
    matches = list(_POSTCODE.finditer(text)) or list(_SPACED_POSTCODE.finditer(text))
    if matches:
        # The last five-digit group is the postcode ("rue du 8 Mai 1945" has four digits);
        # whatever follows it is the city, whatever precedes it the street.
        m = matches[-1]
        postcode = m.group(1).replace(" ", "")
        before, after = text[: m.start()].strip(" ,;-"), text[m.end() :].strip(" ,;-")
        after_parts = [p.strip() for p in re.split(r"[,;]", after) if p.strip()]
        if after_parts and _STARTS_LIKE_STREET.match(after_parts[0]):
            # "Paris 75019 12 bd de la Villette": the street after the postcode.
            street_part = ",".join(after_parts)
            city = before or None
        elif len(after_parts) >= 2 and not before:
            # "75019 Paris, 12 bd de la Villette".
            city = after_parts[0]
            street_part = ",".join(after_parts[1:])
        elif after:
            city = after
            street_part = before
        else:
            # "Paris, 12 rue X, 75019" or "12 rue X, Paris 75019": the city before it.
            parts = [p for p in re.split(r"[,;]", before) if p.strip()]
            if len(parts) >= 2 and _looks_like_city(parts[-1], parts[:-1]):
                city = parts[-1].strip()
                street_part = ",".join(parts[:-1])
            else:
                street_part = before
    else:
        parts = [p for p in re.split(r"[,;]", text) if p.strip()]
        # "12 rue X, Paris": a last comma-separated part that does not start like a street
        # address ("12 rue ...") is the city.
        if len(parts) >= 2 and _looks_like_city(parts[-1], parts[:-1]):
            city = parts[-1].strip()
            street_part = ",".join(parts[:-1])
    number, street = _split_number(_drop_complements(street_part))
    return ParsedAddress(number, street.strip(" ,;-"), postcode, city)


def _drop_complements(street_part: str) -> str:
    """ "Bâtiment A, 3 rue X" -> "3 rue X": keep the one part that looks like an address."""
    parts = [p.strip() for p in re.split(r"[,;]", street_part) if p.strip()]
    if len(parts) < 2:
        return street_part
    addresses = [p for p in parts if _is_number_and_street(p)]
    return addresses[0] if len(addresses) == 1 else street_part


def _is_number_and_street(part: str) -> bool:
    m = _HOUSENUMBER.match(part.lower())
    return bool(m and m.end() > 0 and _HAS_WORD.search(part[m.end() :]))


# "France" at the end is the country, unless a street name ends with it ("Avenue de France").
_COUNTRY = re.compile(r"[\s,;-]*(?<!\bde[\s-])(?<!\bd')\bfrance\s*$", re.IGNORECASE)
# "75 019": some files split the postcode; only tried when no five-digit group is found.
_SPACED_POSTCODE = re.compile(r"(?<!\d)(\d{2}\s\d{3})(?!\d)")
