"""Cut an input into chunk files and join tagged parts back, in order (for jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.batch.options import TagOptions


@dataclass(frozen=True, slots=True)
class Split:
    """An input cut into chunk files, and the options every chunk is tagged with."""

    chunks: list[Path]  # in input order; each has the header and <= rows_per_chunk rows
    rows: int  # data rows in the whole input
    options: TagOptions  # resolved: format, delimiter, encoding and output format fixed


def split_input(src: Path, folder: Path, rows_per_chunk: int, options: TagOptions) -> Split:
    """Cut ``src`` into chunk files under ``folder`` that ``Tagger.tag_file`` accepts."""
    raise NotImplementedError


def join_outputs(parts: list[Path], dst: Path, options: TagOptions) -> None:
    """Concatenate tagged parts (in chunk order) into ``dst``, in ``options.output_format``."""
    raise NotImplementedError
