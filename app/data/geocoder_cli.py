"""``qpv geocoder ...``: build the offline geocoder from BAN files."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from app.db.session import open_database
from app.settings import Settings


def register(groups: Any) -> None:
    """Add the ``geocoder`` sub-commands."""
    parser: argparse.ArgumentParser = groups.add_parser("geocoder", help="offline BAN geocoder")
    commands = parser.add_subparsers(dest="command", required=True)

    imp = commands.add_parser(
        "import",
        help="import BAN CSV files (adresses-DD.csv[.gz]) into the database",
        description="Each file replaces the rows of the départements it covers (idempotent).",
    )
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imp.add_argument(
        "--replace",
        choices=("departement", "commune"),
        default="departement",
        help="what a file replaces: its whole départements (official files, the default) "
        "or only the communes it contains (extracts)",
    )
    imp.set_defaults(func=_import)

    geo = commands.add_parser("geocode", help="geocode one address with the offline geocoder")
    geo.add_argument("q", help="free-text address")
    geo.add_argument("--limit", type=int, default=5)
    geo.set_defaults(func=_geocode)


def _import(args: argparse.Namespace) -> int:
    from app.data.ban_import import import_ban_files
    from app.db.access import bump_generation

    settings = Settings()
    engine = open_database(settings.database_url)
    try:
        reports = import_ban_files(
            engine, args.paths, replace=args.replace, store_root=settings.geocoder_dir
        )
        bump_generation(engine)  # running servers load the new geocoder tables
    finally:
        engine.dispose()
    for r in reports:
        print(
            f"{r.source_name}: départements {', '.join(r.departements)}: {r.streets} streets, "
            f"{r.addresses} addresses, {r.skipped} rows skipped ({r.seconds:.1f} s)"
        )
    return 0


def _geocode(args: argparse.Namespace) -> int:
    from app.data.ban_import import load_local_geocoder
    from app.geocoding.base import AddressQuery

    settings = Settings()
    engine = open_database(settings.database_url)
    try:
        started = time.perf_counter()
        geocoder = load_local_geocoder(engine, settings.geocoder_dir)
        loaded = time.perf_counter() - started
    finally:
        engine.dispose()
    result = asyncio.run(geocoder.geocode(AddressQuery(q=args.q), limit=args.limit))
    print(f"# {geocoder.street_count} streets, {geocoder.address_count} addresses ({loaded:.2f} s)")
    for c in result.candidates:
        print(f"{c.score:.3f}\t{c.type}\t{c.lon:.6f}\t{c.lat:.6f}\t{c.citycode}\t{c.label}")
    return 0 if result.candidates else 1
