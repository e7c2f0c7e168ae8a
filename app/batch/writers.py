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
        return repr(value)
    return cell_text(value) or ""


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
        self._table: dict[int, bytes] = {}

    def _encode(self, values: list[Any]) -> bytes:
        d = self.delimiter
        text = "".join(d + csv_field(_text(v), d) for v in values)
        return text.encode(self.encoding, errors="replace")

    def start(self) -> bytes:
        """The input's header record with the result column names appended."""
        return self.source.raw_header + self._encode(list(self.columns)) + self.newline

    def write(self, block: Block, results: Results) -> bytes:
        """Each input record, padded to the header's width, then its result fields."""
        assert isinstance(block, CsvBlock)
        raws = block.raw()
        cols = result_columns(self.labels, results, self.columns)
        plain = results.plain()
        g = results.geography.astype(np.int64) + 1
        gid = self.labels.global_ids(results) + 1
        key = (gid * 4 + g) * 16 + results.status
        uniq, first, inverse = np.unique(key[plain], return_index=True, return_inverse=True)
        plain_rows = np.flatnonzero(plain)
        table = self._table
        for k, row in zip(uniq.tolist(), plain_rows[first].tolist(), strict=True):
            if k not in table:
                table[k] = self._encode([c.value(row) for c in cols.values()])
        suffixes = np.empty(block.n, dtype=object)
        suffixes[plain_rows] = np.array([table[k] for k in uniq.tolist()] + [b""], dtype=object)[
            inverse
        ]
        for i in np.flatnonzero(~plain).tolist():
            suffixes[i] = self._encode([c.value(i) for c in cols.values()])
        self._pad(block, raws)
        out = self.newline.join(map(bytes.__add__, raws, suffixes.tolist()))
        return out + self.newline if raws else b""

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
                self.sheet.write_string(self.row, col, str(value))
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
