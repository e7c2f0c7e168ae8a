"""Read a tagged table (CSV, any of the usual delimiters and encodings) for the analysis."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from app.errors import InvalidInput, MissingColumns
from app.stats import sides
from app.stats.values import coded

GEOGRAPHY_COLUMN = "qpv_geography"
# Provenance a tagged file may carry; whichever is present is reported, the rest is unknown.
PROVENANCE_COLUMNS = ("qpv_dataset_version", "qpv_dataset", "qpv_as_of", "qpv_tagged_at")
TAG_COLUMNS = (sides.STATUS_COLUMN, sides.CODE_COLUMN, GEOGRAPHY_COLUMN, *PROVENANCE_COLUMNS)
_DELIMITERS = ";,\t|"
# Arrow strips a UTF-8 byte order mark itself and transcodes the others.
_ARROW_ENCODINGS = {"utf-8-sig": "utf8", "cp1252": "cp1252", "latin-1": "latin1"}


def _decode_head(head: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return head.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return head.decode("latin-1"), "latin-1"


def sniff(head: bytes) -> tuple[str, str, list[str]]:
    """Encoding, delimiter and header (names as written) of a CSV from its first bytes."""
    text, encoding = _decode_head(head[: head.rfind(b"\n") + 1] or head)
    first = text.splitlines()[0] if text.strip() else ""
    if not first:
        raise InvalidInput("the input is empty: no header line")
    delimiter = max(_DELIMITERS, key=first.count)
    return encoding, delimiter, next(csv.reader([first], delimiter=delimiter))


def read_table(source: Path | bytes, needed: Iterable[str]) -> pd.DataFrame:
    """The needed columns (plus the tagging and provenance ones present) as categoricals.

    Arrow's multithreaded reader dictionary-encodes each column while parsing: a column of a
    tagged file has a handful of distinct values, so rows become small integer codes.
    """
    head = source[:65536] if isinstance(source, bytes) else _head(source)
    encoding, delimiter, header = sniff(head)
    names = [h.strip() for h in header]
    missing = [c for c in dict.fromkeys(needed) if c not in names]
    if missing:
        raise MissingColumns(
            f"column(s) not in the input: {', '.join(repr(c) for c in missing)}; "
            f"the input has {', '.join(repr(c) for c in names[:40])}",
            columns=missing,
        )
    wanted = set(needed) | set(TAG_COLUMNS)
    columns = [raw for raw, name in zip(header, names, strict=True) if name in wanted]
    coded_type = pa.dictionary(pa.int32(), pa.string())
    try:
        table = pacsv.read_csv(
            pa.BufferReader(source) if isinstance(source, bytes) else str(source),
            read_options=pacsv.ReadOptions(encoding=_ARROW_ENCODINGS[encoding]),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns,
                column_types=dict.fromkeys(columns, coded_type),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the input is not a readable CSV table: {exc}") from None
    return table.to_pandas().rename(columns=str.strip)


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(65536)


def provenance(frame: pd.DataFrame) -> dict[str, Any]:
    """What the tagged table says about how it was tagged; None where it says nothing."""
    out: dict[str, Any] = {}
    for column in (GEOGRAPHY_COLUMN, *PROVENANCE_COLUMNS):
        if column in frame:
            out[column] = coded(frame[column]).values[:10]
        else:
            out[column] = None
    return out
