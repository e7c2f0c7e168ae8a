"""Cut an input into chunk files and join tagged parts back, in order (for jobs).

CSV chunks are byte ranges of the input behind a copy of its header record, so every row
reaches its part unchanged; .xlsx chunks are small workbooks with the same cells.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app.batch.options import OutputFormat, TagOptions
from app.batch.readers import Source, csv_blocks, records, resolve, xlsx_blocks
from app.batch.writers import GeojsonWriter, xlsx_text


@dataclass(frozen=True, slots=True)
class Split:
    """An input cut into chunk files, and the options every chunk is tagged with."""

    chunks: list[Path]  # in input order; each has the header and <= rows_per_chunk rows
    rows: int  # data rows in the whole input
    options: TagOptions  # resolved: format, delimiter, encoding and output format fixed


def split_input(src: Path, folder: Path, rows_per_chunk: int, options: TagOptions) -> Split:
    """Cut ``src`` into chunk files under ``folder`` that ``Tagger.tag_file`` accepts."""
    from app.batch.pipeline import plan_columns

    if rows_per_chunk < 1:
        raise ValueError("rows_per_chunk must be at least 1")
    folder.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as inp:
        source, resolved = resolve(inp, options.check())
        plan_columns(source.header, resolved)
        if source.format is OutputFormat.XLSX:
            chunks, rows = _split_xlsx(inp, source, folder, rows_per_chunk)
        else:
            chunks, rows = _split_csv(inp, source, folder, rows_per_chunk)
    return Split(chunks, rows, resolved)


def _chunk_path(folder: Path, number: int, suffix: str) -> Path:
    return folder / f"chunk-{number:05d}.{suffix}"


def _split_csv(
    inp: IO[bytes], source: Source, folder: Path, rows_per_chunk: int
) -> tuple[list[Path], int]:
    header = source.raw_header + source.newline
    chunks: list[Path] = []
    out: IO[bytes] | None = None
    room = 0
    rows = 0
    try:
        for block in csv_blocks(inp, source):
            starts = [*block.starts.tolist(), len(block.data)]
            done = 0
            while done < block.n:
                if out is None or room == 0:
                    if out is not None:
                        out.close()
                    chunks.append(_chunk_path(folder, len(chunks), "csv"))
                    out = open(chunks[-1], "wb")  # noqa: SIM115 - closed below
                    out.write(header)
                    room = rows_per_chunk
                take = min(room, block.n - done)
                out.write(block.data[starts[done] : starts[done + take]])
                done += take
                room -= take
                rows += take
        if not chunks:
            chunks.append(_chunk_path(folder, 0, "csv"))
            chunks[-1].write_bytes(header)
    finally:
        if out is not None:
            out.close()
    return chunks, rows


def _split_xlsx(
    inp: IO[bytes], source: Source, folder: Path, rows_per_chunk: int
) -> tuple[list[Path], int]:
    chunks: list[Path] = []
    rows = 0
    pending: list[list[Any]] = []

    def flush() -> None:
        chunks.append(_chunk_path(folder, len(chunks), "xlsx"))
        _write_xlsx(chunks[-1], iter([source.header, *pending]))
        pending.clear()

    for block in xlsx_blocks(inp, source):
        for row in block.cells:
            pending.append(row)
            rows += 1
            if len(pending) == rows_per_chunk:
                flush()
    if pending or not chunks:
        flush()
    return chunks, rows


def _write_xlsx(path: Path, rows: Iterator[list[Any]]) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("qpv")
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if hasattr(value, "isoformat") and hasattr(value, "year"):
                sheet.write_datetime(r, c, value, dates)
            elif isinstance(value, bool | int | float):
                sheet.write(r, c, value)
            else:
                sheet.write_string(r, c, xlsx_text(value))
    book.close()


def join_outputs(parts: list[Path], dst: Path, options: TagOptions) -> None:
    """Concatenate tagged parts (in chunk order) into ``dst``, in ``options.output_format``."""
    if not parts:
        raise ValueError("join_outputs needs at least one part")
    fmt = options.output_format
    if fmt is OutputFormat.CSV or fmt is None:
        _join_csv(parts, dst)
    elif fmt is OutputFormat.PARQUET:
        _join_parquet(parts, dst)
    elif fmt is OutputFormat.GEOJSON:
        _join_geojson(parts, dst)
    else:
        _join_xlsx(parts, dst)


def _join_csv(parts: list[Path], dst: Path) -> None:
    with open(dst, "wb") as out:
        for number, part in enumerate(parts):
            if number == 0:
                with open(part, "rb") as inp:
                    shutil.copyfileobj(inp, out, 1 << 20)
                continue
            data = part.read_bytes()
            starts, _ = records(data, final=True)
            out.write(data[int(starts[1]) :] if len(starts) > 1 else b"")


def _join_parquet(parts: list[Path], dst: Path) -> None:
    import pyarrow.parquet as pq

    writer: Any = None
    try:
        for part in parts:
            table = pq.read_table(part)
            if writer is None:
                writer = pq.ParquetWriter(dst, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _join_geojson(parts: list[Path], dst: Path) -> None:
    head, tail = GeojsonWriter.HEAD, GeojsonWriter.TAIL
    first = True
    with open(dst, "wb") as out:
        out.write(head)
        for part in parts:
            body = part.read_bytes()[len(head) : -len(tail)]
            if body:
                out.write(body if first else b",\n" + body)
                first = False
        out.write(tail)


def _join_xlsx(parts: list[Path], dst: Path) -> None:
    from openpyxl import load_workbook

    def rows() -> Iterator[list[Any]]:
        for number, part in enumerate(parts):
            with open(part, "rb") as f:  # a file object: part names need no .xlsx suffix
                book = load_workbook(f, read_only=True, data_only=True)
                try:
                    for r, row in enumerate(book.worksheets[0].iter_rows(values_only=True)):
                        if r > 0 or number == 0:
                            yield list(row)
                finally:
                    book.close()

    _write_xlsx(dst, rows())
