"""The bulk protocol of ``POST /search/csv``: the CSV we send and the CSV we get back."""

from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

import httpx

from app.geocoding.ban.errors import bad_response, content_type
from app.geocoding.ban.parsing import csv_row_result
from app.geocoding.ban.query import Prepared
from app.geocoding.base import GeocodeErrorKind, GeocodeResult

# Servers without the CSV endpoint answer one of these; anything else is a transient or
# per-chunk failure and does not disable bulk mode for the rest of the instance's life.
UNSUPPORTED_STATUS = frozenset({404, 405, 501})
# Extra read time granted to a /search/csv request per row it carries (addok needs a few ms
# per row; the public API is slower under load).
SECONDS_PER_ROW = 0.02
# Column names of the CSV we send; prefixed so that they never clash with result_* columns.
_COL_ROW, _COL_Q, _COL_POSTCODE, _COL_CITYCODE = "qpv_row", "qpv_q", "qpv_postcode", "qpv_citycode"

Item = tuple[int, Prepared]  # (position in the caller's list, query)


def encode_chunk(chunk: list[Item]) -> tuple[bytes, dict[str, Any]]:
    """The CSV body and form fields of one /search/csv request."""
    has_postcode = any(p.postcode for _, p in chunk)
    has_citycode = any(p.citycode for _, p in chunk)
    header = [_COL_ROW, _COL_Q]
    if has_postcode:
        header.append(_COL_POSTCODE)
    if has_citycode:
        header.append(_COL_CITYCODE)
    out = io.StringIO()
    # Quote everything: addok sniffs the dialect, and quoted fields make that unambiguous.
    writer = csv.writer(out, delimiter=",", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    for row_number, (_, prepared) in enumerate(chunk):
        row = [str(row_number), prepared.q]
        if has_postcode:
            row.append(prepared.postcode or "")
        if has_citycode:
            row.append(prepared.citycode or "")
        writer.writerow(row)
    form: dict[str, Any] = {"columns": [_COL_Q], "delimiter": ","}
    if has_postcode:
        form["postcode"] = _COL_POSTCODE
    if has_citycode:
        form["citycode"] = _COL_CITYCODE
    return out.getvalue().encode("utf-8"), form


def decode_answer(response: httpx.Response, expected: int) -> list[dict[str, str | None]]:
    """The answer's rows, in the order sent; ``RequestError`` when it is not the expected CSV."""
    try:
        text = response.content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise bad_response("/search/csv answer is not UTF-8") from exc
    first_line = text.split("\n", 1)[0]
    if _COL_ROW not in first_line:
        raise bad_response(f"/search/csv answer is not the expected CSV ({content_type(response)})")
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=",;\t|")
    except csv.Error as exc:
        raise bad_response("/search/csv answer has an unknown CSV dialect") from exc
    by_row = _rows_by_number(csv.DictReader(io.StringIO(text, newline=""), dialect=dialect))
    if set(by_row) != set(range(expected)):
        raise bad_response(f"/search/csv answer has {len(by_row)} rows for {expected} sent")
    return [by_row[i] for i in range(expected)]


def _rows_by_number(reader: csv.DictReader[str]) -> dict[int, dict[str, str | None]]:
    by_row: dict[int, dict[str, str | None]] = {}
    try:
        for row in reader:
            try:
                number = int(row.get(_COL_ROW) or "")
            except ValueError as exc:
                raise bad_response("/search/csv row without a valid row number") from exc
            by_row[number] = dict(row)
    except csv.Error as exc:
        raise bad_response("/search/csv answer is not valid CSV") from exc
    return by_row


def apply_rows(
    chunk: list[Item],
    rows: list[dict[str, str | None]],
    results: list[GeocodeResult | None],
    *,
    postcode_fallback: bool,
) -> list[Item]:
    """Store each row's result; return the rows to search again without their postcode."""
    leftover: list[Item] = []
    for (index, prepared), row in zip(chunk, rows, strict=True):
        try:
            result = csv_row_result(row)
        except ValueError as exc:
            result = GeocodeResult(
                error=GeocodeErrorKind.BAD_RESPONSE, error_detail=f"/search/csv row has {exc}"
            )
        if (
            not result.candidates
            and result.error is None
            and prepared.postcode
            and postcode_fallback
        ):
            # A wrong or CEDEX postcode filters every address out: search again without it.
            leftover.append((index, dataclasses.replace(prepared, postcode=None)))
        else:
            results[index] = result
    return leftover
