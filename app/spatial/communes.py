"""Which communes have QPV: by INSEE code (2024 files) or by département and name (2015 files)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from app.codes import ARRONDISSEMENT_SUFFIX, commune_code, departement_of_citycode, is_insee_code
from app.folding import fold


def name_key(name: str) -> str:
    """A commune name folded for comparison: no accents, case, hyphens, arrondissement."""
    text = re.sub(r"\bsainte\b", "ste", re.sub(r"\bsaint\b", "st", fold(name)))
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
        if citycode and is_insee_code(citycode):
            if self.codes:
                return commune_code(citycode) in self.codes
            if city and self.names:
                dept = departement_of_citycode(citycode)
                return (dept, name_key(city)) in self.names
        return None
