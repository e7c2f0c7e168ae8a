"""The report as JSON-ready data and as CSV (the main table)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import pandas as pd

from app.stats.gaps import GapReport


def describe(report: GapReport) -> dict[str, Any]:
    """The indicator and the publication rules, as plain data."""
    a = report.analysis
    ind = asdict(a.indicator)
    ind["kind"] = type(a.indicator).__name__
    return {
        "indicator": ind,
        "by": list(a.by),
        "threshold": a.threshold,
        "confidence": a.confidence,
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{k: _clean(v) for k, v in r.items()} for r in rows]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def to_json(report: GapReport) -> dict[str, Any]:
    """Every table of the report (suppressed values are null) and its provenance."""
    return {
        **describe(report),
        "rows": _records(report.table),
        "sensitivity": _records(report.sensitivity),
        "statuses": _records(report.statuses),
        "suppression": report.suppression,
        "provenance": report.provenance,
        "notes": report.notes,
    }


def to_csv(report: GapReport) -> str:
    """The main table; suppressed values are empty and the ``secret`` column says why."""
    return str(report.table.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
