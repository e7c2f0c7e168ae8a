"""Which communes have QPV: by INSEE code (2024 files) or by département and name (2015 files)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Paris, Marseille and Lyon: BAN answers with arrondissement codes, QPV files with the commune.
ARRONDISSEMENTS: dict[str, tuple[str, ...]] = {
    "75056": tuple(f"751{i:02d}" for i in range(1, 21)),
    "13055": tuple(f"132{i:02d}" for i in range(1, 17)),
    "69123": tuple(f"6938{i}" for i in range(1, 10)),
}
_CITY_OF_ARRONDISSEMENT = {a: city for city, arrs in ARRONDISSEMENTS.items() for a in arrs}
# "Paris 18ème arrondissement", "Lyon 8e Arrondissement": the suffix that names one.
ARRONDISSEMENT_SUFFIX = re.compile(r"\s+\d+\s*(?:er|e|ème|eme)?\s+arrondissement$", re.IGNORECASE)
_CITYCODE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")


def commune_code(citycode: str) -> str:
    """The commune of an INSEE code: arrondissements of Paris, Marseille, Lyon -> the city."""
    return _CITY_OF_ARRONDISSEMENT.get(citycode, citycode)


def departement_of_citycode(citycode: str) -> str:
    """The département of an INSEE commune code: 93010 -> 93, 2A004 -> 2A, 97411 -> 974."""
    return citycode[:3] if citycode.startswith(("97", "98")) else citycode[:2]


def name_key(name: str) -> str:
    """A commune name folded for comparison: no accents, case, hyphens, arrondissement."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[-'’.]", " ", text)
    text = re.sub(r"\bsainte\b", "ste", re.sub(r"\bsaint\b", "st", text))
    text = " ".join(text.split())
    return ARRONDISSEMENT_SUFFIX.sub("", text)


@dataclass(frozen=True, slots=True)
class CommuneIndex:
    """The communes that hold at least one QPV of a geography."""

    codes: frozenset[str]
    names: frozenset[tuple[str, str]]  # (département, name key)

    @classmethod
    def build(cls, quartiers: Iterable[tuple[str, Iterable[str], Iterable[str]]]) -> CommuneIndex:
        """From (département, commune names, INSEE codes) of every quartier."""
        codes: set[str] = set()
        names: set[tuple[str, str]] = set()
        for departement, communes, insee_codes in quartiers:
            codes.update(commune_code(c) for c in insee_codes)
            names.update((departement, name_key(n)) for n in communes)
        return cls(frozenset(codes), frozenset(names))

    def has_qpv(self, citycode: str | None, city: str | None) -> bool | None:
        """Whether the commune has a QPV; None when the data cannot tell."""
        if citycode and _CITYCODE.match(citycode):
            if self.codes:
                return commune_code(citycode) in self.codes
            if city and self.names:
                dept = departement_of_citycode(citycode)
                return (dept, name_key(city)) in self.names
        return None
