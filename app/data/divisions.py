"""Read and import the administrative divisions (``@etalab/decoupage-administratif`` package).

The package is read as published, an npm tarball (``.tgz``), or its unpacked ``communes.json``.
Like the QPV files, an import is checked completely first, stored in one transaction, and
idempotent by content hash.
"""

from __future__ import annotations

import json
import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.db import divisions as repository
from app.db.publication import publish
from app.divisions import CommuneEntry, CommuneKind
from app.errors import ImportRefused
from app.hashing import file_sha256

log = logging.getLogger(__name__)
COMMUNES_MEMBER = "package/data/communes.json"
_MAX_COMMUNES_BYTES = 64 << 20  # the 2026 file is 8.6 MB: refuse anything absurd


@dataclass(frozen=True, slots=True)
class DivisionsFile:
    """The checked content of one package file."""

    source_name: str
    sha256: str
    package_version: str | None
    entries: list[CommuneEntry]


@dataclass(frozen=True, slots=True)
class DivisionsReport:
    """What an import did."""

    source_name: str
    sha256: str
    commune_count: int
    created: bool  # False when the same content had been imported before


def _read_package(path: Path) -> tuple[bytes, str | None]:
    """``communes.json`` and the package version, from a tarball or a plain JSON file."""
    if path.suffix.lower() == ".json":
        return path.read_bytes(), None
    try:
        with tarfile.open(path, "r:*") as tar:
            version = None
            try:
                manifest = tar.extractfile("package/package.json")
                if manifest is not None:
                    version = json.loads(manifest.read()).get("version")
            except (KeyError, ValueError):
                version = None
            member = tar.getmember(COMMUNES_MEMBER)
            if member.size > _MAX_COMMUNES_BYTES:
                raise ImportRefused(f"{path.name}: {COMMUNES_MEMBER} is implausibly large")
            fh = tar.extractfile(member)
            if fh is None:
                raise KeyError(COMMUNES_MEMBER)
            return fh.read(), version
    except KeyError:
        raise ImportRefused(f"{path.name}: no {COMMUNES_MEMBER} in the package") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ImportRefused(f"{path.name}: not a readable package ({type(exc).__name__})") from None


def _entry(item: Any) -> CommuneEntry:
    kind = CommuneKind(item["type"])
    parent = item.get("commune") if kind is CommuneKind.ARRONDISSEMENT else item.get("chefLieu")
    return CommuneEntry(
        code=str(item["code"]),
        name=str(item["nom"]),
        kind=kind,
        departement=str(item["departement"]),
        parent=str(parent) if parent else None,
        postcodes=tuple(str(p) for p in item.get("codesPostaux") or ()),
        former_codes=tuple(str(c) for c in item.get("anciensCodes") or ()),
    )


def read_divisions(path: Path) -> DivisionsFile:
    """Parse and check the package; refuse it when it is not the administrative divisions."""
    if not path.is_file():
        raise ImportRefused(f"{path.name}: no such file")
    raw, version = _read_package(path)
    try:
        items = json.loads(raw)
        if not isinstance(items, list):
            raise TypeError("not a list")
        entries = [_entry(item) for item in items]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ImportRefused(
            f"{path.name}: communes.json is not the administrative divisions "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if not any(e.kind is CommuneKind.CURRENT for e in entries):
        raise ImportRefused(f"{path.name}: communes.json holds no current commune")
    return DivisionsFile(path.name, file_sha256(path), version, entries)


def import_divisions(engine: Engine, path: Path, source_url: str | None = None) -> DivisionsReport:
    """Import the package; idempotent by content hash (then the file is not even parsed)."""
    sha256 = file_sha256(path) if path.is_file() else ""
    with Session(engine) as session:
        known = repository.find_import_by_sha(session, sha256)
        if known is not None:
            return DivisionsReport(known.source_name, sha256, known.commune_count, False)
    divisions = read_divisions(path)
    with Session(engine) as session, session.begin():
        stored = repository.add_import(
            session,
            divisions.source_name,
            divisions.sha256,
            divisions.package_version,
            divisions.entries,
            source_url,
        )
        publish(session.connection())  # the newest package is the one in use: announce it
        report = DivisionsReport(stored.source_name, stored.sha256, stored.commune_count, True)
    log.debug("imported administrative divisions %s", report.source_name)
    return report
