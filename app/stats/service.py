"""One entry point for the CLI and the API: parameters -> analysis -> report -> bytes."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from app.batch import OutputFormat, Tagger, TagOptions
from app.errors import InvalidInput, MissingColumns
from app.stats import html, render, source
from app.stats.formats import ReportFormat
from app.stats.gaps import GapReport, analyse
from app.stats.indicators import Analysis, BinaryRate, CategoricalShares, Indicator, RatioOfSums
from app.stats.sides import STATUS_COLUMN

# Tags a raw file (src) into a tagged CSV (dst); returns the provenance of the tagging.
Tag = Callable[[Path, Path], dict[str, Any]]

_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d*)?)\s*(%?)\s*$")


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def reference_of(value: str | None) -> float | str | None:
    """A reference rate (0.62, 0,62, 62 %) or the name of a column holding one per row."""
    if value is None or not value.strip():
        return None
    match = _NUMBER.match(value)
    if not match:
        return value.strip()
    number = float(match.group(1).replace(",", "."))
    number = number / 100 if match.group(2) or number > 1 else number
    if not 0 <= number <= 1:
        raise InvalidInput(
            f"reference: {value!r} is not a rate between 0 and 1 (or 0 and 100 %)",
            parameter="reference",
        )
    return number


def indicator_of(
    outcome: str | None = None,
    shares: str | None = None,
    ratio: str | None = None,
    positive: str | None = None,
    negative: str | None = None,
    reference: str | None = None,
    seed: int = 0,
) -> Indicator:
    """Exactly one of outcome (binary rate), shares (categorical) or ratio (NUM/DEN)."""
    given = [name for name, v in (("outcome", outcome), ("shares", shares), ("ratio", ratio)) if v]
    if len(given) != 1:
        raise InvalidInput(
            "give exactly one indicator: outcome (a binary column), shares (a categorical "
            f"column) or ratio (NUMERATOR/DENOMINATOR columns); got {', '.join(given) or 'none'}",
            parameter="outcome",
        )
    ref = reference_of(reference)
    if outcome:
        return BinaryRate(outcome.strip(), _split(positive), _split(negative), ref)
    if positive or negative or ref is not None:
        bad = "positive/negative" if positive or negative else "reference"
        raise InvalidInput(f"{bad} applies to a binary outcome only", parameter=bad.split("/")[0])
    if shares:
        return CategoricalShares(shares.strip())
    assert ratio is not None
    num, slash, den = ratio.partition("/")
    if not slash or not num.strip() or not den.strip():
        raise InvalidInput(f"ratio: {ratio!r} is not NUMERATOR/DENOMINATOR", parameter="ratio")
    return RatioOfSums(num.strip(), den.strip(), seed=seed)


def analysis_of(
    indicator: Indicator, by: str | None, threshold: int, confidence: float = 0.95
) -> Analysis:
    """The analysis; bad values name their parameter."""
    if threshold < 1:
        raise InvalidInput(f"threshold: must be at least 1, not {threshold}", parameter="threshold")
    if not 0.5 <= confidence < 1:
        raise InvalidInput(
            f"confidence: must be in [0.5, 1), not {confidence}", parameter="confidence"
        )
    return Analysis(indicator, _split(by), threshold, confidence)


def report_of(
    table: pd.DataFrame, analysis: Analysis, extra: dict[str, Any] | None = None
) -> GapReport:
    """Analyse a tagged table; provenance from its columns, completed by ``extra``."""
    provenance = source.provenance(table)
    extra = dict(extra or {})
    # Versions of the datasets a tagging done here used, for the geographies the rows show.
    used = provenance.get(source.GEOGRAPHY_COLUMN) or []
    for key, column in (("datasets", "qpv_dataset_version"), ("dataset_names", "qpv_dataset")):
        known = extra.pop(key, {})
        if known and not provenance.get(column):
            provenance[column] = [f"{g} : {known[g]}" for g in used if g in known] or None
    provenance.update({k: v for k, v in extra.items() if v is not None})
    provenance.setdefault("generated_on", date.today().isoformat())
    return analyse(table, analysis, provenance)


def rendered(report: GapReport, fmt: ReportFormat) -> bytes:
    """The report in a format."""
    if fmt is ReportFormat.JSON:
        return orjson.dumps(render.to_json(report), option=orjson.OPT_INDENT_2)
    if fmt is ReportFormat.CSV:
        return render.to_csv(report).encode()
    return html.render(report).encode()


def is_tagged(path: Path) -> bool:
    """Whether a CSV file already carries the tagging columns."""
    with path.open("rb") as f:
        return STATUS_COLUMN in [h.strip() for h in source.sniff(f.read(65536))[2]]


def load_input(
    path: Path, analysis: Analysis, tag: Tag | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The tagged table and what is known of its tagging; a raw file is tagged first."""
    if is_tagged(path):
        return source.read_table(path, analysis.required_columns()), {}
    if tag is None:
        raise MissingColumns(
            f"column {STATUS_COLUMN!r} not in the input: give a tagged file (the batch output), "
            "or the batch options (columns/postcode/citycode, or lat/lon or x/y) to tag it first",
            columns=[STATUS_COLUMN],
        )
    with tempfile.TemporaryDirectory(prefix="qpv-gaps-") as folder:
        tagged = Path(folder) / "tagged.csv"
        provenance = tag(path, tagged)
        return source.read_table(tagged, analysis.required_columns()), provenance


def batch_tag(tagger: Tagger, options: TagOptions) -> Tag:
    """Tag raw files with the batch pipeline, as ``qpv tag`` / ``POST /v1/batch/csv`` would."""

    def tag(src: Path, dst: Path) -> dict[str, Any]:
        resolved = options.with_(output_format=OutputFormat.CSV)
        tagger.tag_file(src, dst, resolved)
        geographies = tagger.index.geographies
        return {
            "datasets": {str(g): geo.dataset.version for g, geo in geographies.items()},
            "dataset_names": {str(g): geo.dataset.source_name for g, geo in geographies.items()},
            "qpv_tagged_at": [date.today().isoformat()],
            "qpv_as_of": [options.as_of.isoformat()] if options.as_of else None,
        }

    return tag
