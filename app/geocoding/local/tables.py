"""The offline geocoder's data: its street and address tables, built from plain rows.

``build_tables`` takes rows as any storage yields them (the database adapter, or a test's
literals) and makes the two frozen tables ``LocalGeocoder`` is built from. The tables are
flat numpy arrays (``columns``) with the street lookups precomputed (``StreetLookups``), so
the same layout is written to files and memory-mapped by every process (``store``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import DTypeLike, NDArray

from app.geocoding.local.columns import (
    CodedColumn,
    SparseStrings,
    StringColumn,
    encode_strings,
    group_rows,
    sorted_hashes,
    text_hashes,
)
from app.geocoding.local.summary import commune_summary
from app.geocoding.normalize import street_key, strip_type


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
class StreetLookups:
    """The street lookups computed once with the tables: arrays, value tables, commune summary."""

    arrays: Mapping[str, NDArray[Any]]
    meta: Mapping[str, Any]


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
    # None for a table assembled by hand: ``index.index_streets`` then computes them.
    lookups: StreetLookups | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        n = len(self.name)
        if any(len(getattr(self, f)) != n for f in self.__dataclass_fields__ if f != "lookups"):
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
    rep: NDArray[Any]
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


class ColumnSink(Protocol):
    """Where built columns go: memory (``MemorySink``) or files (``store.FileSink``)."""

    def declare(self, name: str, dtype: DTypeLike) -> None:
        """Announce a column (so that an empty one still has its type)."""

    def append(self, name: str, values: NDArray[Any]) -> None:
        """Append values to a declared column."""

    def arrays(self) -> dict[str, NDArray[Any]]:
        """Every column, complete."""
        ...


class MemorySink:
    """Columns concatenated in memory."""

    def __init__(self) -> None:
        self._parts: dict[str, list[NDArray[Any]]] = {}
        self._dtypes: dict[str, np.dtype[Any]] = {}

    def declare(self, name: str, dtype: DTypeLike) -> None:
        """Announce a column."""
        self._parts[name] = []
        self._dtypes[name] = np.dtype(dtype)

    def append(self, name: str, values: NDArray[Any]) -> None:
        """Append values to a column."""
        self._parts[name].append(np.asarray(values, dtype=self._dtypes[name]))

    def arrays(self) -> dict[str, NDArray[Any]]:
        """Every column, concatenated."""
        return {
            n: np.concatenate(p) if p else np.empty(0, dtype=self._dtypes[n])
            for n, p in self._parts.items()
        }


def build_tables(
    streets: Sequence[StreetRecord], addresses: Iterable[Sequence[AddressRecord]]
) -> tuple[StreetTable, AddressTable]:
    """The two tables from street rows (ordered by id) and address rows in chunks.

    Address rows must come sorted by street id (then number): each street owns one
    contiguous slice of them.
    """
    sink = MemorySink()
    meta = build_columns([streets], addresses, sink)
    return assemble(sink.arrays(), meta)


_CODED = ("citycode", "postcode", "city", "old_city", "delivery_city")
_TEXTS = ("name", "name_norm", "ban_id", "key")
_ADDRESS_DTYPES = {"a_numero": np.int32, "a_rep": np.int16, "a_lon": np.float64}
_ADDRESS_DTYPES |= {"a_lat": np.float64, "x_rows": np.int64}


def build_columns(
    street_chunks: Iterable[Sequence[StreetRecord]],
    address_chunks: Iterable[Sequence[AddressRecord]],
    sink: ColumnSink,
) -> dict[str, Any]:
    """Every column of both tables into ``sink``; returns the metadata ``assemble`` needs.

    Streets come ordered by id, addresses sorted by street id: a street's addresses are
    one contiguous slice. Street rows are held (as arrays) until the end; address rows
    go to the sink chunk by chunk.
    """
    streets = _StreetColumns()
    for street_chunk in street_chunks:
        streets.add(street_chunk)
    for name, dtype in _ADDRESS_DTYPES.items():
        sink.declare(name, dtype)
    addresses = _AddressColumns(sink, streets.ids(), streets.ban_ids)
    for address_chunk in address_chunks:
        if address_chunk:
            addresses.add(address_chunk)
    arrays, values = streets.finish(addresses.counts)
    arrays |= addresses.finish()
    for name, array in arrays.items():
        sink.declare(name, array.dtype)
        sink.append(name, array)
    summary = commune_summary(arrays, values)
    return {"values": values, "rep_table": list(addresses.reps), "summary": summary}


class _StreetColumns:
    """Street rows accumulated chunk by chunk into codes, text blobs and arrays."""

    def __init__(self) -> None:
        self._codes: dict[str, dict[str | None, int]] = {c: {} for c in _CODED}
        self._coded: dict[str, list[NDArray[np.int32]]] = {c: [] for c in _CODED}
        self._texts: dict[str, list[str | None]] = {t: [] for t in _TEXTS}
        self._numbers: dict[str, list[NDArray[Any]]] = {"id": [], "lon": [], "lat": []}
        self.ban_ids: list[str] = []

    def add(self, rows: Sequence[StreetRecord]) -> None:
        """Append one chunk of street rows."""
        if not rows:
            return
        cols = dict(zip(StreetRecord._fields, zip(*rows, strict=True), strict=True))
        for c in _CODED:
            table = self._codes[c]
            codes = [table.setdefault(v, len(table)) for v in cols[c]]
            self._coded[c].append(np.asarray(codes, dtype=np.int32))
        for t in ("name", "name_norm", "ban_id"):
            self._texts[t].extend(cols[t])
        self._texts["key"].extend(street_key(n) for n in cols["name_norm"])
        self._numbers["id"].append(np.asarray(cols["id"], dtype=np.int64))
        self._numbers["lon"].append(np.asarray(cols["lon"], dtype=np.float64))
        self._numbers["lat"].append(np.asarray(cols["lat"], dtype=np.float64))
        self.ban_ids.extend(b or "" for b in cols["ban_id"])

    def ids(self) -> NDArray[np.int64]:
        """Street ids, in row order."""
        return _concat(self._numbers["id"], np.int64)

    def finish(self, counts: NDArray[np.int64]) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """The street arrays (lookups included) and the value table of each coded column."""
        out: dict[str, NDArray[Any]] = {}
        for c in _CODED:
            out[f"s_{c}"] = _concat(self._coded[c], np.int32)
        for t in _TEXTS:
            out[f"s_{t}_off"], out[f"s_{t}_blob"] = encode_strings(self._texts[t])
        out["s_lon"] = _concat(self._numbers["lon"], np.float64)
        out["s_lat"] = _concat(self._numbers["lat"], np.float64)
        out["s_end"] = np.cumsum(counts).astype(np.int64)
        out["s_start"] = out["s_end"] - counts
        keys = self._texts["key"]
        citynorm = (
            f"{c}\x1f{n}" for c, n in zip(self._citycodes(), self._texts["name_norm"], strict=True)
        )
        lookups: tuple[tuple[str, Iterable[Any]], ...] = (
            ("by_key", keys),
            ("by_notype", [strip_type(k or "") for k in keys]),
            ("by_city_norm", citynorm),
        )
        for name, texts in lookups:
            out[f"{name}_h"], out[f"{name}_r"] = sorted_hashes(text_hashes(texts))
        n_communes = len(self._codes["citycode"])
        out["commune_off"], out["commune_rows"] = group_rows(out["s_citycode"], n_communes)
        values = {c: list(self._codes[c]) for c in _CODED}
        return out, values

    def _citycodes(self) -> Iterable[str | None]:
        values = list(self._codes["citycode"])
        return (values[c] for c in _concat(self._coded["citycode"], np.int32).tolist())


class _AddressColumns:
    """Address rows, chunk by chunk, into the sink: numbers, rep codes, coordinates."""

    def __init__(self, sink: ColumnSink, ids: NDArray[np.int64], ban_ids: list[str]) -> None:
        self._sink = sink
        self._ids = ids
        self._ban_ids = ban_ids
        self.reps: dict[str, int] = {"": 0}
        self.counts = np.zeros(len(ids), dtype=np.int64)
        self._exceptions: list[str] = []
        self._n = 0

    def add(self, rows: Sequence[AddressRecord]) -> None:
        """Append one chunk of (street_id, numero, rep, lon, lat, ban_id) rows."""
        street_ids, *columns = (list(c) for c in zip(*rows, strict=True))
        sid = np.asarray(street_ids, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._ids, sid), max(len(self._ids) - 1, 0))
        # Rows of an unknown street (none with a foreign key) own no street slice: dropped.
        known = self._ids[pos] == sid if len(self._ids) else np.zeros(len(sid), dtype=bool)
        keep = np.flatnonzero(known)
        if len(keep) < len(sid):
            columns = [[col[j] for j in keep.tolist()] for col in columns]
        numeros, reps, lons, lats, ban_ids = columns
        table, street_ban = self.reps, self._ban_ids
        # Comprehensions, not one loop with calls: this runs once per address (tens of
        # millions); the ids are spelled as derived_id spells them.
        codes = [table.setdefault(r, len(table)) for r in reps]
        derived = [
            f"{street_ban[p]}_{n:05d}_{r}" if r else f"{street_ban[p]}_{n:05d}"
            for p, n, r in zip(pos[keep].tolist(), numeros, reps, strict=True)
        ]
        rows_x = [k for k, (d, b) in enumerate(zip(derived, ban_ids, strict=True)) if d != b]
        self._exceptions.extend(ban_ids[k] for k in rows_x)
        self._sink.append("a_numero", np.asarray(numeros, dtype=np.int32))
        self._sink.append("a_rep", np.asarray(codes, dtype=np.int16))
        self._sink.append("a_lon", np.asarray(lons, dtype=np.float64))
        self._sink.append("a_lat", np.asarray(lats, dtype=np.float64))
        self._sink.append("x_rows", np.asarray(rows_x, dtype=np.int64) + self._n)
        self.counts += np.bincount(pos[keep], minlength=len(self.counts))
        self._n += len(keep)

    def finish(self) -> dict[str, NDArray[Any]]:
        """The ids that are not derived from their street's (the rows are in the sink)."""
        offsets, blob = encode_strings(self._exceptions)
        return {"x_off": offsets, "x_blob": blob}


def _concat(parts: list[NDArray[Any]], dtype: DTypeLike) -> NDArray[Any]:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def assemble(
    arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]
) -> tuple[StreetTable, AddressTable]:
    """The two tables over built arrays (in memory or memory-mapped) and their metadata."""
    values = meta["values"]

    def coded(c: str) -> CodedColumn[Any]:
        return CodedColumn(arrays[f"s_{c}"], values[c])

    def text(t: str, *, none_if_empty: bool = False) -> StringColumn:
        return StringColumn(
            arrays[f"s_{t}_off"], arrays[f"s_{t}_blob"], none_if_empty=none_if_empty
        )

    streets = StreetTable(
        citycode=coded("citycode"),
        postcode=coded("postcode"),
        city=coded("city"),
        old_city=coded("old_city"),
        delivery_city=coded("delivery_city"),
        name=text("name"),
        name_norm=text("name_norm"),
        ban_id=text("ban_id", none_if_empty=True),
        lon=arrays["s_lon"],
        lat=arrays["s_lat"],
        start=arrays["s_start"],
        end=arrays["s_end"],
        lookups=StreetLookups(arrays, meta),
    )
    addresses = AddressTable(
        numero=arrays["a_numero"],
        rep=arrays["a_rep"],
        lon=arrays["a_lon"],
        lat=arrays["a_lat"],
        rep_table=tuple(meta["rep_table"]),
        id_exceptions=SparseStrings(
            arrays["x_rows"], StringColumn(arrays["x_off"], arrays["x_blob"])
        ),
    )
    return streets, addresses
