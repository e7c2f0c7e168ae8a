"""Where the stats tests keep their artefacts (screenshots, rendered reports; gitignored)."""

from __future__ import annotations

from pathlib import Path

ARTEFACTS = Path(__file__).resolve().parents[1] / "artifacts"
