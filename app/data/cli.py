"""``qpv data ...`` and ``qpv setup``: import official files, or find/download and import them."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import UpstreamError
from app.settings import Settings
from app.spatial.geography import Geography

if TYPE_CHECKING:
    from sqlalchemy import Engine

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
    imp.add_argument(
        "--force", action="store_true", help="use it even past the QPV_IMPORT_MAX_* limits"
    )
    imp.set_defaults(func=_import)

    listing = commands.add_parser("list", help="every stored QPV dataset and its state")
    listing.set_defaults(func=_list)
    use = commands.add_parser("use", help="make a stored dataset current again (undo an import)")
    use.add_argument("dataset_id", type=int, metavar="DATASET_ID")
    use.set_defaults(func=_use)

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
    from app.data.importer import ImportOptions, import_qpv_file
    from app.data.plausibility import ImportLimits
    from app.data.sync import qpv_line
    from app.db.session import open_database

    settings = Settings()
    engine = open_database(settings.database_url)
    geography = Geography(args.geography) if args.geography else None
    options = ImportOptions(
        limits=ImportLimits.of(settings), force=args.force, pause_at=settings.import_pause_at
    )
    report = import_qpv_file(
        engine, args.path, geography, member=args.member, crs=args.crs, options=options
    )
    print(qpv_line(report, args.path))
    if report.changes is not None:
        print(f"changes: {report.changes}")
        for problem in report.changes.problems():  # past the limits, with --force
            print(f"changes: {problem}")
    return 0


def _list(_args: argparse.Namespace) -> int:
    from app.data.importer import list_datasets
    from app.db.session import open_database

    datasets = list_datasets(open_database(Settings().database_url))
    if not datasets:
        print("no QPV dataset: run `qpv data sync` or `qpv data import FILE`")
    for d in datasets:
        print(
            f"{d.id}\t{d.state}\t{d.geography}\t{d.feature_count} QPV\t"
            f"{d.imported_at:%Y-%m-%d %H:%M}\t{d.version}\t{d.source_name}"
        )
    return 0


def _use(args: argparse.Namespace) -> int:
    from app.data.importer import use_dataset
    from app.db.session import open_database

    engine = open_database(Settings().database_url)
    dataset, generation = use_dataset(engine, args.dataset_id)
    print(
        f"dataset {dataset.id} ({dataset.source_name}, {dataset.feature_count} QPV) is now "
        f"the current {dataset.geography} dataset (data generation {generation}); running "
        "servers answer from it within QPV_RELOAD_POLL_S"
    )
    return 0


def _servers_reload(engine: Engine) -> None:
    """Bump the data generation: running servers reload within QPV_RELOAD_POLL_S."""
    from app.db.access import bump_generation

    generation = bump_generation(engine)
    logging.getLogger(__name__).info("data generation %d: running servers reload it", generation)


def _sync(args: argparse.Namespace) -> int:
    from app.data.importer import ImportOptions
    from app.data.plausibility import ImportLimits
    from app.data.sync import sync_ban, sync_sources
    from app.db.session import open_database

    settings = Settings()
    engine = open_database(settings.database_url)
    options = ImportOptions(
        limits=ImportLimits.of(settings), reactivate=False, pause_at=settings.import_pause_at
    )
    lines: list[SyncLine] = []
    imported = False  # BAN files: the divisions and QPV imports publish themselves
    try:
        for line in sync_sources(
            engine,
            settings.data_dir,
            settings.download_dir,
            settings.sources_manifest,
            offline=args.offline,
            options=options,
        ):
            print(line, flush=True)
            lines.append(line)
        if args.all:
            for line in sync_ban(engine, settings.data_dir / "ban", settings.geocoder_dir):
                print(line, flush=True)
                imported = imported or line.outcome == "imported"
        if imported:
            _servers_reload(engine)
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
