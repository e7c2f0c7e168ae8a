"""Where a job's files live: one folder per job under ``QPV_JOBS_DIR``."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.batch import OutputFormat

_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx"}


@dataclass(frozen=True, slots=True)
class JobFiles:
    """The folder layout of jobs; every path is under ``root``."""

    root: Path

    def folder(self, job_id: str) -> Path:
        """The job's own folder (created by ``create``, never by a worker)."""
        return self.root / job_id

    def create(self, job_id: str) -> Path:
        """Make the job's folder and its chunks sub-folder."""
        folder = self.folder(job_id)
        (folder / "chunks").mkdir(parents=True, exist_ok=False)
        return folder

    def input(self, job_id: str, filename: str) -> Path:
        """Where the upload is written: ``input`` with the upload's suffix (format hint)."""
        suffix = Path(filename).suffix.lower()
        return self.folder(job_id) / f"input{suffix if suffix in _SUFFIXES else ''}"

    def find_input(self, job_id: str) -> Path | None:
        """The stored upload, if it is still there."""
        return next(iter(sorted(self.folder(job_id).glob("input*"))), None)

    def chunks(self, job_id: str) -> Path:
        """The folder of chunk inputs and tagged parts."""
        return self.folder(job_id) / "chunks"

    def part(self, job_id: str, index: int) -> Path:
        """The tagged output of chunk ``index``."""
        return self.chunks(job_id) / f"part-{index:05d}.out"

    def result(self, job_id: str, output_format: OutputFormat) -> Path:
        """The joined result file."""
        return self.folder(job_id) / f"result.{output_format.value}"

    def delete(self, job_id: str) -> None:
        """Remove every file of the job; nothing left is not an error."""
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def orphans(self, known: set[str], older_than_s: float) -> Iterator[str]:
        """Job folders that no record knows of and that nobody touched for a while."""
        if not self.root.is_dir():
            return
        limit = time.time() - older_than_s
        for entry in os.scandir(self.root):
            if entry.is_dir() and entry.name not in known and entry.stat().st_mtime < limit:
                yield entry.name
