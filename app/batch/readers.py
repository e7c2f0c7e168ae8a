"""Read CSV and .xlsx inputs as blocks of rows, keeping each CSV record's raw bytes.

CSV records are found with numpy on the raw bytes: a newline or a delimiter counts when an
even number of quotes precedes it in the block (quoted fields may hold both). In UTF-8 and
Windows-1252 these bytes never occur inside a multi-byte character, so no decoding is needed
to cut records and fields; only the fields a batch reads are decoded.
"""

from __future__ import annotations

import codecs
import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from app.batch.options import DELIMITERS, OutputFormat, TagOptions, invalid
from app.errors import InvalidInput, echo

BLOCK_BYTES = 1 << 21  # about 30,000 short CSV rows; bounds memory whatever the file size
XLSX_BLOCK_ROWS = 20_000
SAMPLE_BYTES = 1 << 16
NUMBER_WIDTH = 32  # longer coordinate fields take the slow path
_QUOTE, _NL, _CR = 34, 10, 13
_NUMERIC = np.zeros(256, dtype=bool)
_NUMERIC[list(b"0123456789.+-eE \t")] = True
_NUMERIC[0] = True
ZIP_MAGIC = b"PK\x03\x04"


class Block(Protocol):
    """A run of consecutive data rows."""

    n: int
    width: int  # fields in the header

    def field_counts(self) -> NDArray[np.int64]:
        """Fields in each row (0 for an empty row)."""
        ...

    def texts(self, k: int) -> list[str | None]:
        """Column ``k`` of each row as text, None where the row has no such field."""
        ...

    def numbers(self, k: int) -> NDArray[np.float64]:
        """Column ``k`` as floats (decimal comma accepted), NaN where empty or not a number."""
        ...

    def rows(self) -> list[list[Any]]:
        """Every field of every row (strings for CSV, typed cells for .xlsx)."""
        ...


@dataclass(frozen=True, slots=True)
class Source:
    """An opened input: its format, header and how to read it."""

    format: OutputFormat  # csv or xlsx
    header: list[str]
    delimiter: str  # CSV only ("," for xlsx)
    encoding: str  # CSV only ("utf-8" for xlsx)
    newline: bytes  # the CSV's line ending, b"\r\n" or b"\n"
    raw_header: bytes  # the CSV's first record, byte for byte (BOM included)


def resolve(src: IO[bytes], options: TagOptions) -> tuple[Source, TagOptions]:
    """Detect format, encoding, delimiter and header; return them and the resolved options."""
    start = src.read(SAMPLE_BYTES)
    src.seek(0)
    if start.startswith(ZIP_MAGIC):
        header = _xlsx_header(src)
        source = Source(OutputFormat.XLSX, header, ",", "utf-8", b"\n", b"")
    else:
        source = _csv_source(start, options)
    resolved = options.with_(
        delimiter=source.delimiter,
        encoding=source.encoding,
        output_format=options.output_format or source.format,
    )
    return source, resolved


def _csv_source(sample: bytes, options: TagOptions) -> Source:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise invalid("data", "UTF-16 files are not supported: save the file as UTF-8 CSV")
    if b"\x00" in sample:
        raise invalid("data", "the file is neither CSV nor .xlsx (binary content)")
    encoding = options.encoding or _detect_encoding(sample)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise invalid("encoding", f"unknown encoding {echo(encoding)}") from None
    if not sample.strip():
        raise invalid("data", "the file is empty: a header row is expected")
    starts, ends = records(sample, final=True)
    raw_header = sample[starts[0] : ends[0]]
    if not len(starts) or not raw_header.strip():
        raise invalid("data", "the first row must be a header naming the columns")
    text = _decode(raw_header, encoding)
    delimiter = options.delimiter or _detect_delimiter(text)
    header = next(csv.reader([text], delimiter=delimiter))
    newline = b"\r\n" if sample[ends[0] : ends[0] + 2] == b"\r\n" else b"\n"
    return Source(OutputFormat.CSV, header, delimiter, encoding, newline, raw_header)


def _detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=len(sample) < SAMPLE_BYTES)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    name = best.encoding if best is not None else "cp1252"
    # Latin-1 and its cousins read French text as Windows-1252 does, and cp1252 also has
    # the typographic quotes, dashes and euro sign that Excel writes.
    return "cp1252" if name in ("latin_1", "iso8859_15", "iso8859_1", "cp1250") else name


def _detect_delimiter(header: str) -> str:
    counts = {d: _unquoted_count(header, d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _unquoted_count(text: str, char: str) -> int:
    return sum(part.count(char) for part in text.split('"')[::2])


def _decode(raw: bytes, encoding: str) -> str:
    text = raw.decode(encoding, errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def records(data: bytes, final: bool) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Start and end (line ending excluded) of each complete record in ``data``.

    ``data`` starts at a record boundary. Without ``final``, bytes after the last record
    boundary are left out (the caller keeps them for the next block).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = _unquoted(buf, _NL)
    ends = newlines
    if final and len(data) and (not len(newlines) or newlines[-1] != len(data) - 1):
        ends = np.append(newlines, len(data))
    if not len(ends):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    starts = np.concatenate(([0], newlines[: len(ends) - 1] + 1)).astype(np.int64)
    ends = ends.astype(np.int64)
    if len(ends):
        before = np.maximum(ends - 1, 0)
        crlf = (ends > starts) & (buf[before] == _CR)
        ends = ends - crlf
    return starts, ends


def _unquoted(buf: NDArray[np.uint8], byte: int) -> NDArray[np.int64]:
    """Positions of ``byte`` outside quoted fields (an even number of quotes before it)."""
    found = np.flatnonzero(buf == byte)
    quotes = np.flatnonzero(buf == _QUOTE)
    if len(quotes) and len(found):
        found = found[(np.searchsorted(quotes, found) & 1) == 0]
    return found.astype(np.int64)


class CsvBlock:
    """Rows of a CSV block, kept as one bytes object and record offsets."""

    def __init__(
        self,
        data: bytes,
        starts: NDArray[np.int64],
        ends: NDArray[np.int64],
        source: Source,
    ) -> None:
        self.data = data
        self.starts = starts
        self.ends = ends
        self.n = len(starts)
        self.width = len(source.header)
        self.source = source
        buf = np.frombuffer(data, dtype=np.uint8)
        self._buf = buf
        seps = _unquoted(buf, ord(source.delimiter))
        self._first = np.searchsorted(seps, starts)
        self._counts = np.searchsorted(seps, ends) - self._first + 1
        self._seps = np.append(seps, len(data))  # a sentinel keeps every lookup in range
        self._counts[ends == starts] = 0

    def raw(self) -> list[bytes]:
        """Each record's bytes, line ending excluded."""
        data = self.data
        return [data[a:b] for a, b in zip(self.starts.tolist(), self.ends.tolist(), strict=True)]

    def field_counts(self) -> NDArray[np.int64]:
        """Fields in each row (0 for an empty row)."""
        return self._counts

    def bounds(self, k: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """Start, end and presence of field ``k`` in each record."""
        seps, first, counts = self._seps, self._first, self._counts
        last = len(seps) - 1
        present = counts > k
        begin = self.starts if k == 0 else seps[np.minimum(first + k - 1, last)] + 1
        end = np.where(counts - 1 > k, seps[np.minimum(first + k, last)], self.ends)
        begin = np.where(present, begin, self.starts)
        end = np.where(present, end, self.starts)
        return begin.astype(np.int64), end.astype(np.int64), present

    def tail(self, k: int) -> list[bytes]:
        """From field ``k`` to the end of each record, raw (to keep extra fields together)."""
        begin, _, _ = self.bounds(k)
        data = self.data
        return [data[a:b] for a, b in zip(begin.tolist(), self.ends.tolist(), strict=True)]

    def texts(self, k: int) -> list[str | None]:
        """Column ``k`` of each row as text, None where the row has no such field."""
        begin, end, present = self.bounds(k)
        data, encoding = self.data, self.source.encoding
        out: list[str | None] = []
        for a, b, here in zip(begin.tolist(), end.tolist(), present.tolist(), strict=True):
            if not here:
                out.append(None)
                continue
            raw = data[a:b]
            if raw[:1] == b'"':
                raw = raw.strip()[1:-1].replace(b'""', b'"')
            out.append(raw.decode(encoding, errors="replace"))
        return out

    def numbers(self, k: int) -> NDArray[np.float64]:
        """Column ``k`` as floats (decimal comma accepted), NaN where empty or not a number."""
        begin, end, present = self.bounds(k)
        buf = self._buf
        quoted = present & (end - begin >= 2) & (buf[np.minimum(begin, len(buf) - 1)] == _QUOTE)
        begin = begin + quoted
        end = end - quoted
        return parse_floats(gather(buf, begin, end))

    def rows(self) -> list[list[Any]]:
        """Every field of every row, decoded (empty rows are empty lists)."""
        delimiter, encoding = self.source.delimiter, self.source.encoding
        out: list[list[Any]] = []
        for raw in self.raw():
            text = raw.decode(encoding, errors="replace")
            if not text:
                out.append([])
            elif '"' in text:
                out.append(next(csv.reader([text], delimiter=delimiter), []))
            else:
                out.append(text.split(delimiter))
        return out


def gather(buf: NDArray[np.uint8], begin: NDArray[np.int64], end: NDArray[np.int64]) -> Any:
    """The byte ranges as one Arrow string array (a single numpy gather, no Python loop)."""
    import pyarrow as pa

    sizes = np.maximum(end - begin, 0)
    bounds = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    total = int(bounds[-1])
    index = np.repeat(begin - bounds[:-1], sizes) + np.arange(total, dtype=np.int64)
    values = buf[index]
    values[values == ord(",")] = ord(".")  # decimal comma (a delimiter comma ends a field)
    return pa.StringArray.from_buffers(
        len(sizes), pa.py_buffer(bounds.astype(np.int32)), pa.py_buffer(values)
    )


_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


def parse_floats(strings: Any) -> NDArray[np.float64]:
    """Arrow strings to floats: NaN for empty or malformed values (vectorised in Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        parsed = pc.cast(strings, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.match_substring_regex(strings, _NUMBER)
        cleaned = pc.utf8_trim_whitespace(pc.if_else(ok, strings, pa.scalar(None, pa.string())))
        parsed = pc.cast(cleaned, pa.float64())
    out: NDArray[np.float64] = parsed.to_numpy(zero_copy_only=False)
    return out.astype(np.float64, copy=False)


def _float(raw: bytes) -> float:
    try:
        value = float(raw)
    except ValueError:
        return math.nan
    return value


def csv_blocks(src: IO[bytes], source: Source) -> Iterator[CsvBlock]:
    """Data-row blocks of a CSV input (the header record skipped)."""
    pending = b""
    header_done = False
    while True:
        more = src.read(BLOCK_BYTES)
        data = pending + more
        final = not more
        starts, ends = records(data, final=final)
        if not header_done and len(starts) and (final or len(starts) > 1):
            data = data[int(ends[0]) + _eol_length(data, int(ends[0])) :]
            header_done = True
            starts, ends = records(data, final=final)
        if header_done and len(starts):
            cut = len(data) if final else int(ends[-1]) + _eol_length(data, int(ends[-1]))
            yield CsvBlock(data[:cut], starts, ends, source)
            data = data[cut:]
        pending = data
        if final:
            return


def _eol_length(data: bytes, end: int) -> int:
    return 2 if data[end : end + 2] == b"\r\n" else 1


# --- .xlsx -----------------------------------------------------------------------------


def _open_sheet(src: IO[bytes]) -> Any:
    from openpyxl import load_workbook

    try:
        book = load_workbook(src, read_only=True, data_only=True)
    except Exception as exc:  # zip or XML errors of a broken workbook
        raise InvalidInput(f"data: not a readable .xlsx file ({type(exc).__name__})") from None
    return book, book.worksheets[0]


def _xlsx_header(src: IO[bytes]) -> list[str]:
    book, sheet = _open_sheet(src)
    try:
        first = next(sheet.iter_rows(values_only=True), None)
    finally:
        book.close()
        src.seek(0)
    if not first or all(v is None for v in first):
        raise invalid("data", "the first row of the sheet must be a header naming the columns")
    return [cell_text(v) or "" for v in first]


class XlsxBlock:
    """Rows of an .xlsx sheet as typed cells."""

    def __init__(self, cells: list[list[Any]], width: int) -> None:
        self.cells = cells
        self.n = len(cells)
        self.width = width

    def field_counts(self) -> NDArray[np.int64]:
        """Fields up to the last non-empty cell of each row (0 for an empty row)."""
        return np.array(
            [
                max((i + 1 for i, v in enumerate(row) if v is not None and v != ""), default=0)
                for row in self.cells
            ],
            dtype=np.int64,
        )

    def texts(self, k: int) -> list[str | None]:
        """Column ``k`` of each row as text, None where the cell is empty."""
        return [cell_text(row[k]) if k < len(row) else None for row in self.cells]

    def numbers(self, k: int) -> NDArray[np.float64]:
        """Column ``k`` as floats, NaN where empty or not a number."""
        out = np.full(self.n, np.nan)
        for i, row in enumerate(self.cells):
            value = row[k] if k < len(row) else None
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int | float):
                out[i] = float(value)
            elif isinstance(value, str):
                out[i] = _float(value.strip().replace(",", ".").encode())
        return out

    def rows(self) -> list[list[Any]]:
        """Every cell of every row, trailing empty cells dropped."""
        return [list(row) for row in self.cells]


def xlsx_blocks(src: IO[bytes], source: Source) -> Iterator[XlsxBlock]:
    """Data-row blocks of the first sheet of an .xlsx (read-only, streamed)."""
    book, sheet = _open_sheet(src)
    width = len(source.header)
    try:
        rows = sheet.iter_rows(values_only=True)
        next(rows, None)
        block: list[list[Any]] = []
        for row in rows:
            block.append(_trim(row))
            if len(block) == XLSX_BLOCK_ROWS:
                yield XlsxBlock(block, width)
                block = []
        if block:
            yield XlsxBlock(block, width)
    finally:
        book.close()


def _trim(row: Sequence[Any]) -> list[Any]:
    values = list(row)
    while values and (values[-1] is None or values[-1] == ""):
        values.pop()
    return values


def cell_text(value: Any) -> str | None:
    """A cell as text: integral floats without ``.0`` (postcodes), dates in ISO 8601."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time() else value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def blocks(src: IO[bytes], source: Source) -> Iterator[Block]:
    """Data-row blocks of any supported input."""
    if source.format is OutputFormat.XLSX:
        yield from xlsx_blocks(src, source)
    else:
        yield from csv_blocks(src, source)


def count_rows(src: IO[bytes], options: TagOptions) -> int:
    """Data rows of an input (for progress bars and row limits); leaves ``src`` rewound."""
    source, _ = resolve(src, options)
    try:
        if source.format is OutputFormat.XLSX:
            book, sheet = _open_sheet(src)
            try:
                return max(int(sheet.max_row or 1) - 1, 0)
            finally:
                book.close()
        rows = -1  # the header
        pending = b""
        while True:
            more = src.read(BLOCK_BYTES)
            data = pending + more
            starts, ends = records(data, final=not more)
            rows += len(starts)
            if not more:
                return max(rows, 0)
            cut = int(ends[-1]) + _eol_length(data, int(ends[-1])) if len(starts) else 0
            pending = data[cut:]
    finally:
        src.seek(0)
