"""``qpv geocoder ...``: build the offline geocoder from BAN files."""

from __future__ import annotations

import argparse
from typing import Any


def register(groups: Any) -> None:
    """Add the ``geocoder`` sub-commands."""
    parser: argparse.ArgumentParser = groups.add_parser("geocoder", help="offline BAN geocoder")
    parser.add_subparsers(dest="command", required=True)
