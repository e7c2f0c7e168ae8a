"""``qpv keys ...``: create, list and revoke API keys in the database of the settings."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.keys import ApiKey, format_scopes, server_secret
from app.settings import Settings


def register(groups: Any) -> None:
    """Add the ``keys`` sub-commands."""
    parser: argparse.ArgumentParser = groups.add_parser("keys", help="API keys")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser(
        "create",
        help="create a key and print it once (stdout); only its keyed hash is stored",
    )
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument("--scopes", required=True, help="comma-separated: lookup,batch,admin")
    create.add_argument(
        "--rate-per-min", type=int, help="requests per minute, instead of QPV_RATE_LIMITS"
    )
    create.set_defaults(func=_create)
    commands.add_parser("list", help="every key (never the key itself)").set_defaults(func=_list)
    revoke = commands.add_parser("revoke", help="revoke a key (servers drop it within the cache)")
    revoke.add_argument("key", help="the key's id, or the first characters shown by `list`")
    revoke.set_defaults(func=_revoke)


def _line(key: ApiKey) -> str:
    state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "live"
    rate = f"{key.rate_per_min}/min" if key.rate_per_min is not None else "default rate"
    created = f"{key.created_at:%Y-%m-%d %H:%M}"
    fields = (str(key.id), f"{key.shown}...", key.name, format_scopes(key.scopes), rate, created)
    return "\t".join((*fields, state))


def _create(args: argparse.Namespace) -> int:
    from app.db.access import create_key
    from app.db.session import open_database

    settings = Settings()
    secret = server_secret(settings.api_key_secret)
    engine = open_database(settings.database_url)
    try:
        key, token = create_key(engine, secret, args.name, args.scopes, args.rate_per_min)
    finally:
        engine.dispose()
    # The key alone on stdout (KEY=$(qpv keys create ...)); the rest on stderr.
    scopes = format_scopes(key.scopes)
    print(f"created key {key.id} ({scopes}): shown once, keep it", file=sys.stderr)
    print(token)
    return 0


def _list(_args: argparse.Namespace) -> int:
    from app.db.access import list_keys
    from app.db.session import open_database

    engine = open_database(Settings().database_url)
    try:
        keys = list_keys(engine)
    finally:
        engine.dispose()
    print("id\tkey\tname\tscopes\trate\tcreated\tstate")
    for key in keys:
        print(_line(key))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from app.db.access import revoke_key
    from app.db.session import open_database

    engine = open_database(Settings().database_url)
    try:
        key = revoke_key(engine, args.key.removesuffix("..."))
    finally:
        engine.dispose()
    print(f"revoked key {key.id} ({key.name})")
    return 0
