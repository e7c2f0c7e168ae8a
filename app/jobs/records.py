"""What a job is: its state, its progress, and the options it was submitted with."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from app.batch import OutputFormat, TagOptions
from app.spatial.geography import Geography


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"  # accepted, waiting for a worker to split it
    RUNNING = "running"  # split; chunks being tagged
    DONE = "done"  # the result file is ready
    FAILED = "failed"  # stopped on an error; its files are deleted
    CANCELLED = "cancelled"  # deleted by its owner before it finished; files deleted

    @property
    def finished(self) -> bool:
        """True once nothing more will happen to the job."""
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


MEDIA_TYPES = {
    OutputFormat.CSV: "text/csv",
    OutputFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    OutputFormat.PARQUET: "application/vnd.apache.parquet",
    OutputFormat.GEOJSON: "application/geo+json",
}


@dataclass(slots=True)
class JobRecord:
    """A job as stored in Redis (no row content: only counts, times and options)."""

    id: str
    state: JobState
    created_at: float
    expires_at: float
    options: TagOptions
    filename: str  # as uploaded: it names the result, it is never logged
    owner: str | None = None  # the API key's owner, once keys exist
    started_at: float | None = None
    finished_at: float | None = None
    rows_total: int | None = None
    chunks: int | None = None
    chunk_options: TagOptions | None = None  # resolved by the split, shared by every chunk
    error: str | None = None
    # The data generation in force at submission, then the one its first chunk was tagged
    # with: every chunk of the job must be tagged with that one (see app/jobs/worker.py).
    data_generation: int | None = None
    tagged_generation: int | None = None
    rows_done: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def generation(self) -> int | None:
        """The data generation that tags the job (the submitted one until a chunk is tagged)."""
        return (
            self.tagged_generation if self.tagged_generation is not None else self.data_generation
        )

    @property
    def output_format(self) -> OutputFormat:
        """The format of the result file."""
        options = self.chunk_options or self.options
        return options.output_format or OutputFormat.CSV

    def eta_s(self, now: float) -> float | None:
        """Seconds left at the rate seen so far; None until there is a rate."""
        if self.state is not JobState.RUNNING or not self.rows_total or not self.started_at:
            return None
        if self.rows_done <= 0:
            return None
        rate = self.rows_done / max(now - self.started_at, 1e-3)
        return max(self.rows_total - self.rows_done, 0) / rate

    def to_redis(self) -> dict[str, str]:
        """The hash fields stored for the job (progress and counts live in their own keys)."""
        fields: dict[str, Any] = {
            "id": self.id,
            "state": self.state.value,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "options": dump_options(self.options),
            "filename": self.filename,
            "owner": self.owner,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "rows_total": self.rows_total,
            "chunks": self.chunks,
            "chunk_options": dump_options(self.chunk_options) if self.chunk_options else None,
            "error": self.error,
            "data_generation": self.data_generation,
            "tagged_generation": self.tagged_generation,
        }
        return {k: str(v) for k, v in fields.items() if v is not None}

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> JobRecord:
        """Rebuild a record from its hash fields."""

        def num(name: str) -> float | None:
            return float(raw[name]) if name in raw else None

        rows_total, chunks = num("rows_total"), num("chunks")
        submitted, tagged = num("data_generation"), num("tagged_generation")
        return cls(
            id=raw["id"],
            state=JobState(raw["state"]),
            created_at=float(raw["created_at"]),
            expires_at=float(raw["expires_at"]),
            options=load_options(raw["options"]),
            filename=raw["filename"],
            owner=raw.get("owner"),
            started_at=num("started_at"),
            finished_at=num("finished_at"),
            rows_total=int(rows_total) if rows_total is not None else None,
            chunks=int(chunks) if chunks is not None else None,
            chunk_options=load_options(raw["chunk_options"]) if "chunk_options" in raw else None,
            error=raw.get("error"),
            data_generation=int(submitted) if submitted is not None else None,
            tagged_generation=int(tagged) if tagged is not None else None,
        )


def dump_options(options: TagOptions) -> str:
    """TagOptions as JSON (dates in ISO form, enums by value)."""

    def plain(value: object) -> object:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, tuple):
            return list(value)
        return value

    return json.dumps({k: plain(v) for k, v in dataclasses.asdict(options).items()})


def load_options(text: str) -> TagOptions:
    """TagOptions from ``dump_options`` JSON."""
    raw: dict[str, Any] = json.loads(text)
    known = {f.name for f in dataclasses.fields(TagOptions)}
    values = {k: v for k, v in raw.items() if k in known}
    for name in ("columns", "result_columns"):
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
    if values.get("geography") is not None:
        values["geography"] = Geography(values["geography"])
    if values.get("as_of") is not None:
        values["as_of"] = date.fromisoformat(values["as_of"])
    if values.get("output_format") is not None:
        values["output_format"] = OutputFormat(values["output_format"])
    return TagOptions(**values)
