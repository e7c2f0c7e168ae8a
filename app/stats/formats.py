"""Renderings of a gap report and their media types (no pandas: the API imports it at start)."""

from __future__ import annotations

from enum import StrEnum


class ReportFormat(StrEnum):
    """Renderings of a gap report."""

    JSON = "json"
    CSV = "csv"
    HTML = "html"


MEDIA_TYPES = {
    ReportFormat.JSON: "application/json",
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.HTML: "text/html; charset=utf-8",
}
