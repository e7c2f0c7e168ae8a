"""The tagging pipeline: read rows in chunks, geocode what needs it, tag, write in order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from app.addresses import AddressResolver
from app.batch.options import TagOptions
from app.settings import Settings
from app.spatial.index import QpvIndex

Progress = Callable[[int], None]  # called with the number of rows just finished


@dataclass(slots=True)
class TagSummary:
    """What a batch did: rows written, rows per status, wall time."""

    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class Tagger:
    """Tags files and streams with one index and (optionally) one address resolver."""

    def __init__(
        self, index: QpvIndex, resolver: AddressResolver | None, settings: Settings
    ) -> None:
        self.index = index
        self.resolver = resolver
        self.settings = settings

    def tag_file(
        self,
        src: Path,
        dst: Path,
        options: TagOptions,
        progress: Progress | None = None,
    ) -> TagSummary:
        """Tag ``src`` (csv or xlsx) into ``dst`` in the options' output format."""
        raise NotImplementedError

    async def atag_file(
        self,
        src: Path,
        dst: Path,
        options: TagOptions,
        progress: Progress | None = None,
    ) -> TagSummary:
        """``tag_file`` for callers already inside an event loop."""
        raise NotImplementedError

    def stream(
        self,
        src: BinaryIO,
        options: TagOptions,
        summary: TagSummary | None = None,
        progress: Progress | None = None,
    ) -> AsyncIterator[bytes]:
        """The tagged output as a stream of bytes, made chunk by chunk."""
        raise NotImplementedError
