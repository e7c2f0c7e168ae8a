"""Read a tagged table (CSV, any of the usual delimiters and encodings) for the analysis."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from app.errors import InvalidInput, MissingColumns
from app.stats import sides
from app.stats.values import coded

GEOGRAPHY_COLUMN = "qpv_geography"
# Provenance a tagged file may carry; whichever is present is reported, the rest is unknown.
PROVENANCE_COLUMNS = ("qpv_dataset_version", "qpv_dataset", "qpv_as_of", "qpv_tagged_at")
TAG_COLUMNS = (sides.STATUS_COLUMN, sides.CODE_COLUMN, GEOGRAPHY_COLUMN, *PROVENANCE_COLUMNS)
_DELIMITERS = ";,\t|"


def _decode_head(head: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return head.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return head.decode("latin-1"), "latin-1"


def sniff(head: bytes) -> tuple[str, str, list[str]]:
    """Encoding, delimiter and header of a CSV from its first bytes."""
    text, encoding = _decode_head(head[: head.rfind(b"\n") + 1] or head)
    first = text.splitlines()[0] if text.strip() else ""
    if not first:
        raise InvalidInput("the input is empty: no header line")
    delimiter = max(_DELIMITERS, key=first.count)
    header = next(csv.reader([first], delimiter=delimiter))
    return encoding, delimiter, [h.strip() for h in header]


def read_table(source: Path | bytes, needed: Iterable[str]) -> pd.DataFrame:
    """The needed columns (plus the tagging and provenance ones present) as strings."""
    if isinstance(source, Path):
        with source.open("rb") as f:
            head = f.read(65536)
    else:
        head = source[:65536]
    encoding, delimiter, header = sniff(head)
    missing = [c for c in dict.fromkeys(needed) if c not in header]
    if missing:
        raise MissingColumns(
            f"column(s) not in the input: {', '.join(repr(c) for c in missing)}; "
            f"the input has {', '.join(repr(c) for c in header[:40])}",
            columns=missing,
        )
    wanted = set(needed) | set(TAG_COLUMNS)
    try:
        return pd.read_csv(
            source if isinstance(source, Path) else io.BytesIO(source),
            sep=delimiter,
            encoding=encoding,
            usecols=lambda name: name.strip() in wanted,
            dtype="category",  # a handful of distinct values per column: codes, not strings
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
        ).rename(columns=str.strip)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the input is not a readable CSV table: {exc}") from exc


def provenance(frame: pd.DataFrame) -> dict[str, Any]:
    """What the tagged table says about how it was tagged; None where it says nothing."""
    out: dict[str, Any] = {}
    for column in (GEOGRAPHY_COLUMN, *PROVENANCE_COLUMNS):
        if column in frame:
            out[column] = coded(frame[column]).values[:10]
        else:
            out[column] = None
    return out
