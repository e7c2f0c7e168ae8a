"""``qpv db ...``: schema migrations."""

from __future__ import annotations

import argparse
from typing import Any

from app.settings import Settings


def register(groups: Any) -> None:
    """Add the ``db`` sub-commands."""
    parser: argparse.ArgumentParser = groups.add_parser("db", help="database schema")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upgrade", help="apply the Alembic migrations")
    up.add_argument("--revision", default="head")
    up.set_defaults(func=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from app.db.migrate import upgrade  # Alembic: only for this command

    upgrade(Settings().database_url, args.revision)
    return 0
