"""The offline geocoder's data: its street and address tables, built from plain rows.

``build_tables`` takes rows as any storage yields them (the database adapter, or a test's
literals) and makes the two frozen tables ``LocalGeocoder`` is built from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray


class StreetRecord(NamedTuple):
    """One stored street (``ban_streets``), as read back."""

    id: int
    citycode: str
    postcode: str
    city: str
    old_city: str | None
    delivery_city: str | None
    name: str
    name_norm: str
    ban_id: str | None
    lon: float
    lat: float


class AddressRecord(NamedTuple):
    """One stored address point (``ban_addresses``), as read back."""

    street_id: int
    numero: int
    rep: str
    lon: float
    lat: float
    ban_id: str


@dataclass(frozen=True, slots=True)
class StreetTable:
    """Streets by position; street ``i`` owns the addresses ``start[i]:end[i]``."""

    citycode: Sequence[str]
    postcode: Sequence[str]
    city: Sequence[str]
    old_city: Sequence[str | None]
    delivery_city: Sequence[str | None]
    name: Sequence[str]
    name_norm: Sequence[str]
    ban_id: Sequence[str | None]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    start: NDArray[np.int64]
    end: NDArray[np.int64]

    def __post_init__(self) -> None:
        n = len(self.name)
        if any(len(getattr(self, f)) != n for f in self.__dataclass_fields__):
            raise ValueError("street columns of different lengths")

    def __len__(self) -> int:
        return len(self.name)


@dataclass(frozen=True, slots=True)
class AddressTable:
    """Address points by position, grouped by street.

    Repetition indexes are small codes into ``rep_table`` (the published spellings); BAN
    address ids are derived from the street id, and only those that are not are stored
    (a national file has tens of millions of addresses).
    """

    numero: NDArray[np.int32]
    rep: NDArray[np.int32]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    rep_table: tuple[str, ...] = ("",)
    id_exceptions: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.numero)
        if not len(self.rep) == len(self.lon) == len(self.lat) == n:
            raise ValueError("address columns of different lengths")

    def __len__(self) -> int:
        return len(self.numero)


def derived_id(street_id: str, numero: int, rep: str) -> str:
    """A BAN address id from its street id: "93010_tt7py3" + 3 + "bis" -> "..._00003_bis"."""
    return f"{street_id}_{numero:05d}_{rep}" if rep else f"{street_id}_{numero:05d}"


def build_tables(
    streets: Sequence[StreetRecord], addresses: Iterable[Sequence[AddressRecord]]
) -> tuple[StreetTable, AddressTable]:
    """The two tables from street rows (ordered by id) and address rows in chunks.

    Address rows must come sorted by street id (then number): each street owns one
    contiguous slice of them.
    """
    street_ban_id = {s.id: s.ban_id or "" for s in streets}
    columns = _AddressColumns()
    for chunk in addresses:
        if chunk:
            columns.add(chunk, street_ban_id)
    a_street, table = columns.table()
    ids = np.fromiter((s.id for s in streets), dtype=np.int64, count=len(streets))
    street_table = StreetTable(
        citycode=[s.citycode for s in streets],
        postcode=[s.postcode for s in streets],
        city=[s.city for s in streets],
        old_city=[s.old_city for s in streets],
        delivery_city=[s.delivery_city for s in streets],
        name=[s.name for s in streets],
        name_norm=[s.name_norm for s in streets],
        ban_id=[s.ban_id for s in streets],
        lon=np.asarray([s.lon for s in streets], dtype=np.float64),
        lat=np.asarray([s.lat for s in streets], dtype=np.float64),
        start=np.searchsorted(a_street, ids, side="left").astype(np.int64),
        end=np.searchsorted(a_street, ids, side="right").astype(np.int64),
    )
    return street_table, table


class _AddressColumns:
    """Address rows accumulated chunk by chunk into compact numpy arrays."""

    def __init__(self) -> None:
        self._chunks: list[tuple[NDArray[Any], ...]] = []
        self._reps: dict[str, int] = {"": 0}
        self._id_exceptions: dict[int, str] = {}
        self._n = 0

    def add(self, rows: Sequence[AddressRecord], street_ban_id: dict[int, str]) -> None:
        """Append one chunk of (street_id, numero, rep, lon, lat, ban_id) rows."""
        street_ids, numeros, reps, lons, lats, ban_ids = zip(*rows, strict=True)
        codes = []
        reps_table = self._reps
        for j, (sid, num, rep, ban_id) in enumerate(
            zip(street_ids, numeros, reps, ban_ids, strict=True)
        ):
            code = reps_table.get(rep)
            if code is None:
                code = reps_table[rep] = len(reps_table)
            codes.append(code)
            if ban_id != derived_id(street_ban_id.get(sid, ""), num, rep):
                self._id_exceptions[self._n + j] = ban_id
        self._chunks.append(
            (
                np.asarray(street_ids, dtype=np.int64),
                np.asarray(numeros, dtype=np.int32),
                np.asarray(codes, dtype=np.int32),
                np.asarray(lons, dtype=np.float64),
                np.asarray(lats, dtype=np.float64),
            )
        )
        self._n += len(rows)

    def table(self) -> tuple[NDArray[np.int64], AddressTable]:
        """The street id of every row added, and the address table."""
        dtypes = (np.int64, np.int32, np.int32, np.float64, np.float64)
        cols: list[NDArray[Any]] = [
            np.concatenate([c[k] for c in self._chunks])
            if self._chunks
            else np.empty(0, dtype=dtypes[k])
            for k in range(5)
        ]
        return cols[0], AddressTable(
            numero=cols[1],
            rep=cols[2],
            lon=cols[3],
            lat=cols[4],
            rep_table=tuple(self._reps),
            id_exceptions=self._id_exceptions,
        )
