"""The offline geocoder's tables as files that every process maps read-only.

One folder per build, named by a key of the imported content: flat binary columns
(``<name>.bin``, read through ``mmap`` without a copy) and ``meta.json`` (column types,
value tables, the commune summary). The operating system shares the mapped pages between
the API workers and the job workers, and opening a store reads only ``meta.json``.

A build writes into a temporary folder beside the final one and renames it when complete:
a reader sees a whole store or none. Concurrent builders of one key are serialised by a
lock file; the loser finds the winner's store and uses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import DTypeLike, NDArray

from app.geocoding.local.tables import (
    AddressRecord,
    AddressTable,
    StreetRecord,
    StreetTable,
    assemble,
    build_columns,
)

# Part of every store key: a change of layout never reads an older build.
STORE_FORMAT = 1
_META = "meta.json"


class FileSink:
    """Columns appended to binary files of one folder."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._files: dict[str, BinaryIO] = {}
        self.dtypes: dict[str, str] = {}

    def declare(self, name: str, dtype: DTypeLike) -> None:
        """Create a column's file (once)."""
        if name not in self._files:
            self._files[name] = (self._dir / f"{name}.bin").open("wb")
            self.dtypes[name] = np.dtype(dtype).str

    def append(self, name: str, values: NDArray[Any]) -> None:
        """Append values to a column's file."""
        self._files[name].write(np.ascontiguousarray(values, dtype=self.dtypes[name]).tobytes())

    def arrays(self) -> dict[str, NDArray[Any]]:
        """Close the files and map them."""
        for fh in self._files.values():
            fh.close()
        return {name: _map(self._dir / f"{name}.bin", d) for name, d in self.dtypes.items()}


def _map(path: Path, dtype: str) -> NDArray[Any]:
    """A read-only array over a file's pages (an empty file cannot be mapped)."""
    with path.open("rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return np.empty(0, dtype=dtype)
        pages = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    return np.frombuffer(pages, dtype=dtype)


def write_store(
    directory: Path,
    street_chunks: Iterable[Sequence[StreetRecord]],
    address_chunks: Iterable[Sequence[AddressRecord]],
) -> None:
    """Build the tables into ``directory``, atomically (a temporary folder, then a rename)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    try:
        sink = FileSink(tmp)
        meta = build_columns(street_chunks, address_chunks, sink)
        sink.arrays()
        meta |= {"format": STORE_FORMAT, "columns": sink.dtypes}
        (tmp / _META).write_text(json.dumps(meta, ensure_ascii=False))
        try:
            tmp.rename(directory)
        except OSError:
            if not (directory / _META).is_file():
                raise
            # Another process built the same key first: its store is as good as ours.
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def open_store(directory: Path) -> tuple[StreetTable, AddressTable]:
    """The tables of a store, memory-mapped read-only."""
    meta = json.loads((directory / _META).read_text())
    if meta.get("format") != STORE_FORMAT:
        raise ValueError(f"geocoder store {directory.name}: format {meta.get('format')}")
    arrays = {name: _map(directory / f"{name}.bin", d) for name, d in meta["columns"].items()}
    return assemble(arrays, meta)


def is_store(directory: Path) -> bool:
    """Whether a complete store is there."""
    return (directory / _META).is_file()


def ensure_store(
    root: Path, key: str, build: Callable[[Path], None]
) -> tuple[StreetTable, AddressTable]:
    """The store of ``key`` under ``root``, built first (by ``build``) if missing.

    Builders of one root take turns (a lock file): the processes starting together after
    an import build the store once; stores of other keys are removed after a build (a
    process still mapping one keeps its pages until it exits).
    """
    directory = root / f"{STORE_FORMAT}-{key}"
    for _ in range(3):
        if not is_store(directory):
            with _locked(root):
                if not is_store(directory):
                    build(directory)
                    for old in root.glob("[0-9]*-*"):
                        if old != directory:
                            shutil.rmtree(old, ignore_errors=True)
        try:
            return open_store(directory)
        except FileNotFoundError:
            continue  # removed by a build of another key meanwhile: build it again
    return open_store(directory)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
