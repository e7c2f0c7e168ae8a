"""``qpv data ...``: import official QPV files, or find/download and import them all."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import httpx

from app.data.importer import ImportReport, import_qpv_file
from app.data.sources import fetch, find_local, load_manifest
from app.db.session import open_database
from app.settings import Settings
from app.spatial.geography import Geography


def register(groups: Any) -> None:
    """Add the ``data`` sub-commands."""
    parser: argparse.ArgumentParser = groups.add_parser("data", help="QPV datasets")
    commands = parser.add_subparsers(dest="command", required=True)

    imp = commands.add_parser("import", help="import one QPV file (GeoJSON, Shapefile, zip, GPKG)")
    imp.add_argument("path", type=Path)
    imp.add_argument("--geography", choices=[g.value for g in Geography])
    imp.add_argument("--member", help="file to read inside a zip archive")
    imp.add_argument("--crs", help="CRS of a file that declares none, e.g. EPSG:2154")
    imp.set_defaults(func=_import)

    sync = commands.add_parser(
        "sync", help="import every official source: from QPV_DATA_DIR, else downloaded"
    )
    sync.add_argument("--offline", action="store_true", help="never download")
    sync.set_defaults(func=_sync)


def _print(report: ImportReport, path: Path) -> None:
    verb = "imported" if report.created else "already imported"
    print(
        f"{verb}: {path.name} -> dataset {report.dataset_id}, geography {report.geography}, "
        f"{report.feature_count} QPV ({report.repaired_count} geometries repaired), "
        f"sha256 {report.sha256[:12]}"
    )


def _import(args: argparse.Namespace) -> int:
    engine = open_database(Settings().database_url)
    geography = Geography(args.geography) if args.geography else None
    report = import_qpv_file(engine, args.path, geography, member=args.member, crs=args.crs)
    _print(report, args.path)
    return 0


def _sync(args: argparse.Namespace) -> int:
    settings = Settings()
    engine = open_database(settings.database_url)
    missing = 0
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        for source in load_manifest(settings.sources_manifest):
            if args.offline:
                path = find_local(source, settings.data_dir)
                if path is None:
                    print(f"missing: no {source.geography} file under {settings.data_dir}")
                    missing += 1
                    continue
            else:
                path = fetch(source, settings.data_dir, settings.download_dir, client)
            member = source.member if path.suffix.lower() == ".zip" else None
            report = import_qpv_file(engine, path, source.geography, member=member)
            _print(report, path)
    return 1 if missing else 0
