"""Split an input into chunks, tag each, join the parts: the same output as in one go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.batch import OutputFormat, Tagger, TagOptions, join_outputs, split_input
from tests.batch.conftest import awkward_csv, write


def _tag_in_parts(tagger: Tagger, src: Path, folder: Path, rows: int, options: TagOptions) -> Path:
    split = split_input(src, folder / "chunks", rows, options)
    parts = []
    for i, chunk in reversed(list(enumerate(split.chunks))):  # any order
        part = folder / f"part-{i}"
        tagger.tag_file(chunk, part, split.options)
        parts.append(part)
    dst = folder / "joined"
    join_outputs(list(reversed(parts)), dst, split.options)
    return dst


@pytest.mark.parametrize("fmt", [None, *OutputFormat])
@pytest.mark.parametrize("rows_per_chunk", [1, 3, 100])
def test_parts_joined_equal_the_whole_file_tagged_at_once(
    tagger: Tagger, tmp_path: Path, fmt: OutputFormat | None, rows_per_chunk: int
) -> None:
    content, expected = awkward_csv("cp1252")
    src = write(tmp_path, "in.csv", content)
    options = TagOptions(lat="lat", lon="lon", output_format=fmt)
    whole = tmp_path / "whole"
    tagger.tag_file(src, whole, options)
    joined = _tag_in_parts(tagger, src, tmp_path, rows_per_chunk, options)
    if fmt in (None, OutputFormat.CSV):
        assert joined.read_bytes() == whole.read_bytes()
    elif fmt is OutputFormat.GEOJSON:
        assert json.loads(joined.read_bytes()) == json.loads(whole.read_bytes())
    elif fmt is OutputFormat.PARQUET:
        import pyarrow.parquet as pq

        assert pq.read_table(joined).to_pylist() == pq.read_table(whole).to_pylist()
    else:
        from openpyxl import load_workbook

        def values(path: Path) -> list[tuple[object, ...]]:
            with open(path, "rb") as f:
                return list(load_workbook(f, read_only=True).active.values)

        assert values(joined) == values(whole)
        assert len(values(joined)) == len(expected) + 1


def test_split_counts_rows_and_resolves_the_options(tmp_path: Path) -> None:
    content, expected = awkward_csv("utf-8-sig")
    split = split_input(
        write(tmp_path, "in.csv", content), tmp_path / "c", 3, TagOptions(lat="lat", lon="lon")
    )
    assert split.rows == len(expected)
    assert len(split.chunks) == 3
    assert split.options.encoding == "utf-8-sig"
    assert split.options.delimiter == ";"
    assert split.options.output_format is OutputFormat.CSV


def test_xlsx_input_splits_into_xlsx_chunks(tagger: Tagger, tmp_path: Path) -> None:
    from openpyxl import Workbook, load_workbook

    book = Workbook()
    book.active.append(["lat", "lon"])
    for i in range(5):
        book.active.append([round(48.88699 + i * 0.001, 5), 2.35313])
    book.save(tmp_path / "in.xlsx")
    options = TagOptions(lat="lat", lon="lon")
    joined = _tag_in_parts(tagger, tmp_path / "in.xlsx", tmp_path, 2, options)
    with open(joined, "rb") as f:
        rows = list(load_workbook(f, read_only=True).active.values)
    assert len(rows) == 6
    assert [r[0] for r in rows[1:]] == [round(48.88699 + i * 0.001, 5) for i in range(5)]
