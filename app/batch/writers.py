"""Output writers: each turns (block, results) into bytes, in row order.

The CSV-to-CSV writer appends the result fields to each input record's raw bytes, so the
input comes back byte for byte; rows whose results depend only on (status, geography,
quartier), nearly all of a coordinate file, share one pre-encoded suffix per combination.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any, Protocol

import numpy as np
import orjson
from numpy.typing import NDArray

from app.batch.options import OutputFormat, TagOptions
from app.batch.readers import Block, CsvBlock, Source, cell_text
from app.batch.results import Column, Labels, Results, result_columns


class Writer(Protocol):
    """Makes the output, block by block."""

    def start(self) -> bytes:
        """The bytes before the first row (header)."""
        ...

    def write(self, block: Block, results: Results) -> bytes:
        """The bytes of one block's rows."""
        ...

    def finish(self) -> Iterator[bytes]:
        """The bytes after the last row."""
        ...


def make_writer(source: Source, options: TagOptions, labels: Labels) -> Writer:
    """The writer for the options' output format (the input's format by default)."""
    fmt = options.output_format or source.format
    if fmt is OutputFormat.CSV and source.format is OutputFormat.CSV:
        return CsvAppendWriter(source, options, labels)
    if fmt is OutputFormat.CSV:
        return CsvRowsWriter(source, options, labels)
    if fmt is OutputFormat.XLSX:
        return XlsxWriter(source, options, labels)
    if fmt is OutputFormat.PARQUET:
        return ParquetWriter(source, options, labels)
    return GeojsonWriter(source, options, labels)


def csv_field(text: str, delimiter: str) -> str:
    """A CSV field, quoted when it holds the delimiter, a quote or a line break."""
    if delimiter in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if value == value else ""
    return cell_text(value) or ""


def _column_texts(column: Column, rows: list[int]) -> list[str]:
    """``_text(column.value(i))`` for each of ``rows``, in one pass."""
    if column.kind == "float":
        values = column.values[rows].tolist()
        return [repr(v) if v == v else "" for v in values]
    if column.kind == "text":
        values = column.values
        return [v if type(v) is str else _text(v) for v in (values[i] for i in rows)]
    return [_text(column.value(i)) for i in rows]


def xlsx_text(value: Any) -> str:
    """Text for a cell: line breaks as Excel writes them (a CR would come back escaped)."""
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique as pandas does: a, a.1, a.2; empty names become column_N."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        base = name or f"column_{i + 1}"
        candidate = base
        while candidate in seen:
            seen[base] += 1
            candidate = f"{base}.{seen[base]}"
        seen.setdefault(candidate, 0)
        out.append(candidate)
    return out


class CsvAppendWriter:
    """CSV in, CSV out: raw input records with the result fields appended."""

    def __init__(self, source: Source, options: TagOptions, labels: Labels) -> None:
        self.source = source
        self.columns = options.output_columns
        self.labels = labels
        self.delimiter = source.delimiter
        self.encoding = source.encoding.replace("utf-8-sig", "utf-8")  # BOM is in the header
        self.newline = source.newline
        self._texts: dict[int, list[str]] = {}  # (status, geography, quartier) -> field texts
        self._encoded: dict[int, bytes] = {}
        self._sparse = [
            (j, name) for j, name in enumerate(self.columns) if name not in _KEYED_COLUMNS
        ]
        self._reason = self.columns.index("qpv_reason") if "qpv_reason" in self.columns else None

    def _encode(self, texts: list[str]) -> bytes:
        d = self.delimiter
        return "".join(d + csv_field(t, d) for t in texts).encode(self.encoding, errors="replace")

    def start(self) -> bytes:
        """The input's header record with the result column names appended."""
        return self.source.raw_header + self._encode(list(self.columns)) + self.newline

    def write(self, block: Block, results: Results) -> bytes:
        """Each input record, padded to the header's width, then its result fields."""
        assert isinstance(block, CsvBlock)
        if not block.n:
            return b""
        cols = result_columns(self.labels, results, self.columns)
        g = results.geography.astype(np.int64) + 1
        key = ((self.labels.global_ids(results) + 1) * 4 + g) * 16 + results.status
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        for k, row in zip(uniq.tolist(), first.tolist(), strict=True):
            if k not in self._texts:
                texts = [_text(c.value(row)) for c in cols.values()]
                for j, _ in self._sparse:
                    texts[j] = ""
                if self._reason is not None:
                    texts[self._reason] = self.labels.default_reason(results, row) or ""
                self._texts[k] = texts
                self._encoded[k] = self._encode(texts)
        suffixes = [self._encoded[k] for k in uniq.tolist()]
        which = inverse.astype(np.int64)
        counts, width = block.field_counts(), block.width
        special = ~results.plain() | (counts != width)
        if (counts > width).any():
            return self._slow(block, results, cols, key)
        rows = np.flatnonzero(special).tolist()
        if rows:
            which[rows] = np.arange(len(suffixes), len(suffixes) + len(rows))
            suffixes += self._own_suffixes(rows, key.tolist(), counts, width, cols, results)
        return _insert(block.data, block.ends, suffixes, which)

    def _own_suffixes(
        self,
        rows: list[int],
        key: list[int],
        counts: NDArray[np.int64],
        width: int,
        cols: dict[str, Column],
        results: Results,
    ) -> list[bytes]:
        """The suffixes of rows with values of their own (geocoded, distance, reason).

        Column by column (one pass over each column's values for all the rows) rather
        than field by field: the same texts as ``_row_texts``, at a fraction of the calls.
        """
        d = self.delimiter
        own: list[tuple[int, list[str]]] = []
        for j, name in self._sparse:
            texts = _column_texts(cols[name], rows)
            if name not in _OF_EVERY_ROW:
                found = results.found
                texts = [t if i in found else "" for t, i in zip(texts, rows, strict=True)]
            own.append((j, texts))
        if self._reason is not None:
            own.append((self._reason, _column_texts(cols["qpv_reason"], rows)))
        out = []
        for n, i in enumerate(rows):
            texts = list(self._texts[key[i]])
            for j, column in own:
                texts[j] = column[n]
            pad = d * (width - max(int(counts[i]), 1))
            out.append(pad.encode() + self._encode(texts))
        return out

    def _row_texts(
        self, keyed: list[str], cols: dict[str, Column], i: int, geocoded: bool
    ) -> list[str]:
        texts = list(keyed)
        for j, name in self._sparse:
            if geocoded or name in _OF_EVERY_ROW:
                texts[j] = _text(cols[name].value(i))
        if self._reason is not None:
            texts[self._reason] = _text(cols["qpv_reason"].value(i))
        return texts

    def _slow(self, block: CsvBlock, results: Results, cols: dict[str, Column], key: Any) -> bytes:
        """Row by row, for blocks with a row longer than the header (rare)."""
        raws = block.raw()
        self._pad(block, raws)
        lines = [
            raw + self._encode(self._row_texts(self._texts[int(key[i])], cols, i, True))
            for i, raw in enumerate(raws)
        ]
        out = self.newline.join(lines)
        tail = block.data[int(block.ends[-1]) :]
        return out + (self.newline if tail else b"")

    def finish(self) -> Iterator[bytes]:
        """Nothing after the rows."""
        return iter(())

    def _pad(self, block: CsvBlock, raws: list[bytes]) -> None:
        """Short rows get empty fields, long rows keep their extra fields in the last one."""
        counts, width = block.field_counts(), block.width
        d = self.delimiter.encode()
        for i in np.flatnonzero(counts < width).tolist():
            raws[i] += d * (width - max(int(counts[i]), 1))
        over = np.flatnonzero(counts > width)
        if over.size:
            begins, _, _ = block.bounds(width - 1)
            for i in over.tolist():
                head = block.data[int(block.starts[i]) : int(begins[i])]
                tail = block.data[int(begins[i]) : int(block.ends[i])]
                raws[i] = head + b'"' + tail.replace(b'"', b'""') + b'"'


# Result columns that depend only on (status, geography, quartier).
_KEYED_COLUMNS = frozenset({"qpv_status", "qpv_code", "qpv_name", "qpv_geography", "qpv_reason"})
# Sparse columns that rows without a geocoding result have too.
_OF_EVERY_ROW = frozenset({"qpv_distance_m", "result_status", "result_distance"})


def _insert(data: bytes, at: NDArray[np.int64], pieces: list[bytes], which: Any) -> bytes:
    """``data`` with ``pieces[which[i]]`` inserted at offset ``at[i]``, in one numpy gather.

    Python would build a million small bytes objects for a million rows; here each block
    costs a handful of array passes over its bytes.
    """
    pool = b"".join(pieces)
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    offsets = np.cumsum(lengths) - lengths + len(data)
    n = len(at)
    starts = np.empty(2 * n + 1, dtype=np.int64)
    sizes = np.empty(2 * n + 1, dtype=np.int64)
    starts[0:-1:2] = np.concatenate(([0], at[:-1]))
    sizes[0:-1:2] = at - starts[0:-1:2]
    starts[1::2] = offsets[which]
    sizes[1::2] = lengths[which]
    starts[-1] = at[-1]
    sizes[-1] = len(data) - at[-1]
    ends = np.cumsum(sizes)
    # int32 positions halve the memory traffic; a block is far below 2 GiB.
    gather = np.repeat((starts - (ends - sizes)).astype(np.int32), sizes)
    gather += np.arange(int(ends[-1]), dtype=np.int32)
    source = np.frombuffer(data + pool, dtype=np.uint8)
    return source.take(gather).tobytes()


def _input_rows(block: Block, width: int) -> list[list[Any]]:
    """Every row cut or padded to the header's width; extra fields joined into the last."""
    rows = block.rows()
    delimiter = getattr(getattr(block, "source", None), "delimiter", ",")
    for row in rows:
        if len(row) > width:
            row[width - 1 :] = [delimiter.join(_text(v) for v in row[width - 1 :])]
        elif len(row) < width:
            row.extend([None] * (width - len(row)))
    return rows


class CsvRowsWriter:
    """Any input to UTF-8 CSV, field by field (the .xlsx-to-CSV path)."""

    def __init__(self, source: Source, options: TagOptions, labels: Labels) -> None:
        self.source = source
        self.columns = options.output_columns
        self.labels = labels

    def _lines(self, rows: list[list[Any]]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=",", lineterminator="\n")
        writer.writerows([[_text(v) for v in row] for row in rows])
        return out.getvalue().encode("utf-8")

    def start(self) -> bytes:
        """The header: input names then result names."""
        return self._lines([[*self.source.header, *self.columns]])

    def write(self, block: Block, results: Results) -> bytes:
        """The block's rows."""
        cols = list(result_columns(self.labels, results, self.columns).values())
        rows = _input_rows(block, len(self.source.header))
        return self._lines([row + [c.value(i) for c in cols] for i, row in enumerate(rows)])

    def finish(self) -> Iterator[bytes]:
        """Nothing after the rows."""
        return iter(())


class XlsxWriter:
    """An .xlsx workbook, written row by row (constant memory) to a temporary file."""

    def __init__(self, source: Source, options: TagOptions, labels: Labels) -> None:
        import xlsxwriter

        self.source = source
        self.columns = options.output_columns
        self.labels = labels
        handle, self.path = tempfile.mkstemp(suffix=".xlsx")
        os.close(handle)
        self.book = xlsxwriter.Workbook(
            self.path, {"constant_memory": True, "strings_to_numbers": False}
        )
        self.sheet = self.book.add_worksheet("qpv")
        self.dates = self.book.add_format({"num_format": "yyyy-mm-dd"})
        self.row = 0

    def _put(self, values: list[Any]) -> None:
        for col, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, datetime | date):
                self.sheet.write_datetime(self.row, col, value, self.dates)
            elif isinstance(value, time):
                self.sheet.write_string(self.row, col, value.isoformat())
            elif isinstance(value, bool | int | float):
                self.sheet.write(self.row, col, value)
            else:
                self.sheet.write_string(self.row, col, xlsx_text(value))
        self.row += 1

    def start(self) -> bytes:
        """Nothing yet: the workbook is written at the end."""
        self._put([*self.source.header, *self.columns])
        return b""

    def write(self, block: Block, results: Results) -> bytes:
        """Add the block's rows to the sheet."""
        cols = list(result_columns(self.labels, results, self.columns).values())
        for i, row in enumerate(_input_rows(block, len(self.source.header))):
            self._put(row + [c.value(i) for c in cols])
        return b""

    def finish(self) -> Iterator[bytes]:
        """The whole workbook, read back in pieces."""
        try:
            self.book.close()
            with open(self.path, "rb") as f:
                while piece := f.read(1 << 20):
                    yield piece
        finally:
            os.unlink(self.path)


class _Sink(io.RawIOBase):
    """A write-only file that hands its bytes over when drained."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def arrow_column(column: Column) -> Any:
    """A pyarrow array: dictionary-encoded categories, floats with nulls, strings."""
    import pyarrow as pa

    if column.kind == "category":
        codes = np.asarray(column.values)
        indices = pa.array(codes.astype(np.int32), mask=codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(column.categories, pa.string()))
    if column.kind == "float":
        values = np.asarray(column.values, dtype=np.float64)
        return pa.array(values, mask=np.isnan(values))
    return pa.array(column.values, pa.string())


class ParquetWriter:
    """Parquet, one row group per block; input columns as text, results typed."""

    def __init__(self, source: Source, options: TagOptions, labels: Labels) -> None:
        self.source = source
        self.columns = options.output_columns
        self.labels = labels
        self.names = unique_names([*source.header, *self.columns])
        self.sink = _Sink()
        self.writer: Any = None

    def start(self) -> bytes:
        """Nothing yet: the schema is known with the first block."""
        return b""

    def write(self, block: Block, results: Results) -> bytes:
        """One row group."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        width = len(self.source.header)
        rows = _input_rows(block, width)
        arrays = [pa.array([cell_text(r[k]) for r in rows], pa.string()) for k in range(width)]
        cols = result_columns(self.labels, results, self.columns)
        arrays += [arrow_column(c) for c in cols.values()]
        table = pa.Table.from_arrays(arrays, names=self.names)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.sink, table.schema)
        self.writer.write_table(table)
        return self.sink.drain()

    def finish(self) -> Iterator[bytes]:
        """The footer (or a whole empty file when there was no row)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            names = self.names
            empty = pa.Table.from_arrays([pa.array([], pa.string()) for _ in names], names=names)
            self.writer = pq.ParquetWriter(self.sink, empty.schema)
            self.writer.write_table(empty)
        self.writer.close()
        yield self.sink.drain()


class GeojsonWriter:
    """A GeoJSON FeatureCollection, one feature per line; rows without a position get null."""

    HEAD = b'{"type":"FeatureCollection","features":[\n'
    TAIL = b"\n]}\n"

    def __init__(self, source: Source, options: TagOptions, labels: Labels) -> None:
        self.source = source
        self.columns = options.output_columns
        self.labels = labels
        self.names = unique_names([*source.header, *self.columns])
        self.first = True

    def start(self) -> bytes:
        """The collection's opening."""
        return self.HEAD

    def write(self, block: Block, results: Results) -> bytes:
        """One feature per row, in order."""
        cols = list(result_columns(self.labels, results, self.columns).values())
        lines = []
        lon, lat = results.lon.tolist(), results.lat.tolist()
        for i, row in enumerate(_input_rows(block, len(self.source.header))):
            values = [v if not isinstance(v, time) else v.isoformat() for v in row]
            props = dict(zip(self.names, values + [c.value(i) for c in cols], strict=True))
            geometry = (
                {"type": "Point", "coordinates": [lon[i], lat[i]]} if lon[i] == lon[i] else None
            )
            lines.append(
                orjson.dumps({"type": "Feature", "geometry": geometry, "properties": props})
            )
        if not lines:
            return b""
        out = (b"" if self.first else b",\n") + b",\n".join(lines)
        self.first = False
        return out

    def finish(self) -> Iterator[bytes]:
        """The collection's closing."""
        yield self.TAIL
