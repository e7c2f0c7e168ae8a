"""Column types of the offline geocoder's tables, backed by flat numpy arrays.

The arrays may live in memory or be memory-mapped read-only from files (``store``): the
national BAN has millions of streets and tens of millions of addresses, which as Python
objects would take gigabytes in every process, and as mapped files are shared by all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from hashlib import blake2b
from typing import Any, Generic, TypeVar, overload

import numpy as np
from numpy.typing import NDArray

T = TypeVar("T")
K = TypeVar("K")
# Bound of the per-process caches of decoded strings and of lookups (entries each).
_CACHE_ROWS = 65_536


def text_hash(text: str) -> int:
    """A stable 64-bit hash of a string (Python's own ``hash`` changes with each process)."""
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "little")


def text_hashes(texts: Iterable[str]) -> NDArray[np.uint64]:
    """``text_hash`` of every string, as an array."""
    return np.fromiter((text_hash(t) for t in texts), dtype=np.uint64)


def encode_strings(texts: Iterable[str | None]) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
    """Offsets (n + 1) and one UTF-8 blob: the layout ``StringColumn`` reads."""
    parts = [(t or "").encode() for t in texts]
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets, np.frombuffer(b"".join(parts), dtype=np.uint8)


class StringColumn(Sequence[Any]):
    """Strings as offsets into one UTF-8 blob: one array, not one Python object a row."""

    def __init__(
        self, offsets: NDArray[np.int64], blob: NDArray[np.uint8], *, none_if_empty: bool = False
    ) -> None:
        self._offsets = offsets
        self._blob = blob
        self._none = none_if_empty  # ids that may be missing: "" stands for None
        # The rows a process reads (labels, candidates) repeat: decoded once, up to a bound.
        self._decoded: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        found = self._decoded.get(i)
        if found is not None:
            return found
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        start, end = self._offsets.item(i), self._offsets.item(i + 1)
        text = self._blob[start:end].tobytes().decode()
        value = None if self._none and not text else text
        if len(self._decoded) >= _CACHE_ROWS:
            self._decoded.clear()
        self._decoded[i] = value
        return value

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


class CodedColumn(Sequence[T], Generic[T]):
    """A column of few distinct values: a small code per row into a table of values."""

    def __init__(self, codes: NDArray[Any], values: Sequence[T]) -> None:
        self.codes = codes
        self.values = tuple(values)

    def __len__(self) -> int:
        return len(self.codes)

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self.values[c] for c in self.codes[i].tolist()]
        value: T = self.values[self.codes.item(i)]  # item(): a Python int, no numpy scalar
        return value

    def __iter__(self) -> Iterator[T]:
        values = self.values
        return (values[c] for c in self.codes.tolist())


class HashLookup(Generic[K]):
    """Rows by key through a sorted array of key hashes, each hit checked against the key."""

    def __init__(
        self,
        hashes: NDArray[np.uint64],
        rows: NDArray[np.int32],
        to_text: Callable[[K], str],
        matches: Callable[[int, K], bool],
    ) -> None:
        self._hashes = hashes
        self._rows = rows
        self._to_text = to_text
        self._matches = matches
        # Streets asked for repeat (a file of one town): found once, up to a bound.
        self._found: dict[K, tuple[int, ...]] = {}

    def get(self, key: K, default: object = None) -> list[int]:
        """Rows whose key is ``key``, in row order (empty when none)."""
        found = self._found.get(key)
        if found is None:
            found = self._find(key)
            if len(self._found) >= _CACHE_ROWS:
                self._found.clear()
            self._found[key] = found
        return list(found)

    def _find(self, key: K) -> tuple[int, ...]:
        h = np.uint64(text_hash(self._to_text(key)))
        hashes = self._hashes
        lo = hi = int(hashes.searchsorted(h))
        while hi < len(hashes) and hashes[hi] == h:  # one row, or a few: no second search
            hi += 1
        return tuple(r for r in self._rows[lo:hi].tolist() if self._matches(r, key))


def sorted_hashes(hashes: NDArray[np.uint64]) -> tuple[NDArray[np.uint64], NDArray[np.int32]]:
    """The hashes sorted, and the row of each (rows of one hash stay in row order)."""
    order = np.argsort(hashes, kind="stable").astype(np.int32)
    return hashes[order], order


class GroupedRows(Mapping[str, list[int]]):
    """Rows grouped by a coded value: ``rows[offsets[g]:offsets[g + 1]]`` are group ``g``'s."""

    def __init__(
        self, names: Sequence[str], offsets: NDArray[np.int64], rows: NDArray[np.int32]
    ) -> None:
        self._group = {name: g for g, name in enumerate(names) if offsets[g + 1] > offsets[g]}
        self._offsets = offsets
        self._rows = rows

    def __getitem__(self, name: str) -> list[int]:
        g = self._group[name]
        rows: list[int] = self._rows[self._offsets[g] : self._offsets[g + 1]].tolist()
        return rows

    def __contains__(self, name: object) -> bool:
        return name in self._group

    def __iter__(self) -> Iterator[str]:
        return iter(self._group)

    def __len__(self) -> int:
        return len(self._group)


def group_rows(codes: NDArray[Any], n_groups: int) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """Offsets (n_groups + 1) and rows sorted by code (in row order within a code)."""
    order = np.argsort(codes, kind="stable").astype(np.int32)
    offsets = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=n_groups), out=offsets[1:])
    return offsets, order


class SparseStrings(Mapping[int, str]):
    """A few strings keyed by row: sorted rows and a ``StringColumn`` of their values."""

    def __init__(self, rows: NDArray[np.int64], values: StringColumn) -> None:
        self._rows = rows
        self._values = values

    def __getitem__(self, row: int) -> str:
        value = self.get(row)
        if value is None:
            raise KeyError(row)
        return value

    def get(self, row: int, default: str | None = None) -> str | None:  # type: ignore[override]
        """The string of ``row``, or ``default`` (most rows have none: no exception then)."""
        rows = self._rows
        if not len(rows):
            return default
        i = int(rows.searchsorted(row))
        if i < len(rows) and rows.item(i) == row:
            value: str = self._values[i]
            return value
        return default

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows.tolist())

    def __len__(self) -> int:
        return len(self._rows)
