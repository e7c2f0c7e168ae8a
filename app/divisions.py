"""French administrative divisions as a plain in-memory reference (no database, no web).

Built from the ``@etalab/decoupage-administratif`` package (INSEE's Code officiel
géographique and La Poste's postcodes): which commune codes and postcodes exist, the name of
every commune, the city of each municipal arrondissement and the commune that absorbed each
merged one. The adapters fill it (``app.data`` reads the package, ``app.db`` stores and
loads it); the cores only read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class CommuneKind(StrEnum):
    """The ``type`` of an entry of ``communes.json``."""

    CURRENT = "commune-actuelle"
    DELEGATED = "commune-deleguee"
    ASSOCIATED = "commune-associee"
    ARRONDISSEMENT = "arrondissement-municipal"


@dataclass(frozen=True, slots=True)
class CommuneEntry:
    """One entry of the reference: a commune, a former one, or an arrondissement."""

    code: str
    name: str
    kind: CommuneKind
    departement: str
    # The current commune this entry belongs to: the city of an arrondissement, the chef-lieu
    # of a delegated or associated commune; None for a current commune.
    parent: str | None = None
    postcodes: tuple[str, ...] = ()
    former_codes: tuple[str, ...] = ()  # codes of communes merged into this one


@dataclass(frozen=True, slots=True)
class DivisionsInfo:
    """Provenance of the reference: the package file and its content hash."""

    source_name: str
    sha256: str
    commune_count: int

    @property
    def version(self) -> str:
        """The first 12 hex digits of the package's sha256, like QPV dataset versions."""
        return self.sha256[:12]


@dataclass(frozen=True, slots=True)
class AdminDivisions:
    """Lookups over the administrative divisions; build it with ``from_entries``."""

    info: DivisionsInfo
    communes: dict[str, CommuneEntry]  # current communes and arrondissements, by code
    current: dict[str, str]  # any known commune code -> the current commune it is part of
    postcodes: dict[str, tuple[str, ...]]  # postcode -> codes of the communes it serves
    former_names: dict[str, str] = field(default_factory=dict)  # merged code -> its old name

    @classmethod
    def from_entries(cls, info: DivisionsInfo, entries: Iterable[CommuneEntry]) -> AdminDivisions:
        """Index the entries of ``communes.json``."""
        entries = list(entries)
        communes = {
            e.code: e
            for e in entries
            if e.kind in (CommuneKind.CURRENT, CommuneKind.ARRONDISSEMENT)
        }
        current: dict[str, str] = {}
        former_names: dict[str, str] = {}
        # Weakest claim first, so that a current commune's own code always wins.
        for e in entries:
            if e.kind in (CommuneKind.DELEGATED, CommuneKind.ASSOCIATED) and e.parent:
                current.setdefault(e.code, e.parent)
                former_names.setdefault(e.code, e.name)
        for e in entries:
            if e.kind is CommuneKind.CURRENT:
                for old in e.former_codes:
                    current.setdefault(old, e.code)
        for e in entries:
            if e.kind is CommuneKind.ARRONDISSEMENT and e.parent:
                current[e.code] = e.parent
            elif e.kind is CommuneKind.CURRENT:
                current[e.code] = e.code
        postcodes: dict[str, list[str]] = {}
        for e in communes.values():
            for postcode in e.postcodes:
                postcodes.setdefault(postcode, []).append(e.code)
        return cls(
            info=info,
            communes=communes,
            current=current,
            postcodes={p: tuple(sorted(codes)) for p, codes in postcodes.items()},
            former_names=former_names,
        )

    def current_code(self, code: str) -> str | None:
        """The current commune of an INSEE code (itself, its city, or what absorbed it)."""
        return self.current.get(code.strip().upper())

    def knows_citycode(self, code: str) -> bool:
        """Whether the code is, or was, an INSEE commune or arrondissement code."""
        return code.strip().upper() in self.current

    def knows_postcode(self, postcode: str) -> bool:
        """Whether La Poste's base has this postcode."""
        return postcode.strip() in self.postcodes

    def name(self, code: str) -> str | None:
        """The name of a current commune or arrondissement, or of a former commune."""
        entry = self.communes.get(code)
        return entry.name if entry is not None else self.former_names.get(code)

    def current_name(self, code: str) -> str | None:
        """The name of the current commune an INSEE code belongs to."""
        current = self.current_code(code)
        return self.name(current) if current is not None else None

    def canonical_commune(self, commune: str) -> str:
        """A commune filter with former and arrondissement codes replaced by the current
        commune's code; names and unknown codes are returned unchanged."""
        return self.current_code(commune) or commune

    def complete(
        self, names: tuple[str, ...], codes: tuple[str, ...]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A quartier's commune names and INSEE codes as published, the names filled from the
        codes when the file has none (2024), and the code of the commune that has since
        absorbed a merged one added, so that today's addresses find their quartiers."""
        if not names:
            found = (self.name(code) or self.current_name(code) for code in codes)
            names = tuple(dict.fromkeys(name for name in found if name))
        current = (self.current_code(code) for code in codes)
        codes += tuple(dict.fromkeys(c for c in current if c is not None and c not in codes))
        return names, codes
