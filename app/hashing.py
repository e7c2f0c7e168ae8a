"""Content hashes of files, the one way datasets and BAN files are identified."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def file_sha256(*paths: Path) -> str:
    """sha256 hex digest of the files' content, concatenated in order, read in chunks."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()
