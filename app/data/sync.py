"""Bring a database up to date with the official sources, deciding from its own state.

Each step compares content hashes (sha256) of the files found with what the database records
(``division_imports``, ``datasets``, ``ban_imports``), so that a second run over a complete
database does nothing and takes about a second, whatever database the URL names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Engine

from app.data.ban_import import import_ban_files
from app.data.divisions import import_divisions
from app.data.importer import ImportOptions, ImportReport, import_qpv_file
from app.data.sources import DIVISIONS, QPV, Source, fetch, find_local, load_manifest
from app.db import ban_repository
from app.hashing import file_sha256

log = logging.getLogger(__name__)
BAN_FILES = re.compile(r"^adresses-.+\.csv(?:\.gz)?$")


@dataclass(frozen=True, slots=True)
class SyncLine:
    """The outcome of one step, as printed by the CLI."""

    outcome: str  # imported, already imported, missing
    text: str

    def __str__(self) -> str:
        return f"{self.outcome}: {self.text}"


def _path(
    source: Source, data_dir: Path, download_dir: Path, client: httpx.Client, offline: bool
) -> Path | None:
    if offline:
        return find_local(source, data_dir)
    return fetch(source, data_dir, download_dir, client)


def sync_sources(
    engine: Engine,
    data_dir: Path,
    download_dir: Path,
    manifest: Path | None = None,
    offline: bool = False,
    options: ImportOptions | None = None,
) -> Iterator[SyncLine]:
    """Import the administrative divisions, then every QPV geography, unless already there.

    A file already imported is left as it is, current or not: sync adds what is missing and
    never undoes an operator's `qpv data use`.
    """
    options = options or ImportOptions(reactivate=False)
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        for source in load_manifest(manifest, DIVISIONS):
            path = _path(source, data_dir, download_dir, client, offline)
            if path is None:
                yield SyncLine("missing", f"no administrative divisions under {data_dir}")
                continue
            report = import_divisions(engine, path)
            verb = "imported" if report.created else "already imported"
            yield SyncLine(
                verb,
                f"{path.name} -> administrative divisions, {report.commune_count} communes, "
                f"sha256 {report.sha256[:12]}",
            )
        for source in load_manifest(manifest, QPV):
            path = _path(source, data_dir, download_dir, client, offline)
            if path is None:
                yield SyncLine("missing", f"no {source.geography} file under {data_dir}")
                continue
            member = source.member if path.suffix.lower() == ".zip" else None
            imported = import_qpv_file(
                engine, path, source.geography, member=member, options=options
            )
            yield qpv_line(imported, path)


def qpv_line(report: ImportReport, path: Path) -> SyncLine:
    """What a QPV import did, in one line."""
    return SyncLine(
        report.outcome,
        f"{path.name} -> dataset {report.dataset_id} ({report.dataset.state}), "
        f"geography {report.geography}, "
        f"{report.feature_count} QPV ({report.repaired_count} geometries repaired), "
        f"sha256 {report.sha256[:12]}"
        + (f", data generation {report.generation}" if report.generation is not None else ""),
    )


def ban_files(folder: Path) -> list[Path]:
    """The BAN CSV files (``adresses-*.csv[.gz]``) under ``folder``, sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("adresses-*") if BAN_FILES.match(p.name))


def sync_ban(engine: Engine, folder: Path, store_root: Path | None = None) -> Iterator[SyncLine]:
    """Build the offline geocoder from the BAN files under ``folder`` unless it holds them all.

    When any file is new, every file is imported again in one run: the files of one
    département (commune extracts) then add up instead of replacing each other.
    """
    paths = ban_files(folder)
    if not paths:
        yield SyncLine("missing", f"no BAN file under {folder}: address lookups need `ban`")
        return
    hashes = {path: file_sha256(path) for path in paths}
    if ban_repository.has_addresses(engine) and set(hashes.values()) <= (
        ban_repository.imported_hashes(engine)
    ):
        for path in paths:
            yield SyncLine("already imported", f"{path.name} -> offline geocoder")
        return
    for report in import_ban_files(engine, paths, store_root=store_root):
        yield SyncLine(
            "imported",
            f"{report.source_name} -> offline geocoder, {report.streets} streets, "
            f"{report.addresses} addresses ({report.seconds:.1f} s)",
        )
