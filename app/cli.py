"""The ``qpv`` command: each domain package registers its own sub-commands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from app.errors import QpvError


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one sub-command group per domain."""
    from app import serve, tag_cli
    from app.data import cli as data_cli
    from app.data import geocoder_cli
    from app.db import cli as db_cli
    from app.db import keys_cli
    from app.jobs import cli as jobs_cli
    from app.stats import cli as stats_cli

    parser = argparse.ArgumentParser(prog="qpv", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True)
    for module in (db_cli, data_cli, geocoder_cli, tag_cli, jobs_cli, stats_cli, serve, keys_cli):
        module.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qpv`` console script."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except QpvError as exc:
        for line in exc.detail.splitlines():  # one line per problem, each one prefixed
            print(f"qpv: error: {line}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
