"""``qpv data ...`` and ``qpv setup``: import official files, or find/download and import them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import UpstreamError
from app.settings import Settings
from app.spatial.geography import Geography

if TYPE_CHECKING:
    from app.data.sync import SyncLine

# The importers (pyogrio, geopandas, pandas) and the database modules are imported inside
# the commands: `qpv tag` and the other groups build this parser without paying for them.


def register(groups: Any) -> None:
    """Add the ``data`` sub-commands and ``setup``."""
    parser: argparse.ArgumentParser = groups.add_parser("data", help="QPV datasets")
    commands = parser.add_subparsers(dest="command", required=True)

    imp = commands.add_parser("import", help="import one QPV file (GeoJSON, Shapefile, zip, GPKG)")
    imp.add_argument("path", type=Path)
    imp.add_argument("--geography", choices=[g.value for g in Geography])
    imp.add_argument("--member", help="file to read inside a zip archive")
    imp.add_argument("--crs", help="CRS of a file that declares none, e.g. EPSG:2154")
    imp.set_defaults(func=_import)

    sync = commands.add_parser(
        "sync",
        help="import the administrative divisions and both QPV geographies: from "
        "QPV_DATA_DIR, else downloaded; only what the database does not hold yet",
    )
    sync.add_argument("--offline", action="store_true", help="never download")
    sync.add_argument(
        "--all", action="store_true", help="also the offline geocoder, from QPV_DATA_DIR/ban"
    )
    sync.set_defaults(func=_sync)

    setup = groups.add_parser(
        "setup",
        help="make the database complete: create it if needed, migrate, `data sync --all`",
        description="Idempotent: decides from the database's own state (sha256 of what it "
        "holds), so a second run over a complete database only checks.",
    )
    setup.add_argument("--offline", action="store_true", help="never download")
    setup.set_defaults(func=_setup, all=True)


def _import(args: argparse.Namespace) -> int:
    from app.data.importer import import_qpv_file
    from app.data.sync import qpv_line
    from app.db.session import open_database

    engine = open_database(Settings().database_url)
    geography = Geography(args.geography) if args.geography else None
    report = import_qpv_file(engine, args.path, geography, member=args.member, crs=args.crs)
    print(qpv_line(report, args.path))
    return 0


def _sync(args: argparse.Namespace) -> int:
    from app.data.sync import sync_ban, sync_sources
    from app.db.session import open_database

    settings = Settings()
    engine = open_database(settings.database_url)
    lines: list[SyncLine] = []
    try:
        for line in sync_sources(
            engine,
            settings.data_dir,
            settings.download_dir,
            settings.sources_manifest,
            offline=args.offline,
        ):
            print(line, flush=True)
            lines.append(line)
        if args.all:
            for line in sync_ban(engine, settings.data_dir / "ban", settings.geocoder_dir):
                print(line, flush=True)
    finally:
        engine.dispose()
    return 1 if any(line.outcome == "missing" for line in lines) else 0


def _setup(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from app.db.migrate import create_database, upgrade

    url = Settings().database_url
    try:
        create_database(url)
        upgrade(url)
    except SQLAlchemyError as exc:
        # The URL may carry a password: name the failure, not the URL.
        cause = type(getattr(exc, "orig", None) or exc).__name__
        raise UpstreamError(f"could not create or migrate the database ({cause})") from None
    return _sync(args)
