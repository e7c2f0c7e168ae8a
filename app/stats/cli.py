"""``qpv gaps`` (gap analysis of a tagged file) and ``qpv example admissions``."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import InvalidInput
from app.settings import Settings
from app.spatial.geography import Geography
from app.stats.formats import ReportFormat

if TYPE_CHECKING:
    from app.stats import service

# The statistics modules (pandas and the rest) are imported by the commands that use them,
# not when `qpv` builds its parser for another command.


def register(groups: Any) -> None:
    """Add the ``gaps`` and ``example`` sub-commands."""
    gaps: argparse.ArgumentParser = groups.add_parser(
        "gaps",
        help="QPV vs hors-QPV gaps of an indicator, per group, with intervals and suppression",
        description="INPUT is a tagged CSV (qpv_status, qpv_code, qpv_geography columns) or a "
        "raw one, tagged first with the batch options.",
    )
    gaps.add_argument("input", type=Path, metavar="INPUT")
    which = gaps.add_argument_group("indicator (exactly one)")
    which.add_argument("--outcome", help="binary column: rate of positive values")
    which.add_argument("--shares", help="categorical column: share of each category")
    which.add_argument("--ratio", help="NUMERATOR/DENOMINATOR columns: ratio of sums")
    gaps.add_argument("--by", default="", help="comma-separated group-by columns")
    gaps.add_argument(
        "--positive", help="comma-separated positive values (default: 1, oui, admis...)"
    )
    gaps.add_argument(
        "--negative", help="comma-separated negative values (default: 0, non, refusé...)"
    )
    gaps.add_argument("--reference", help="reference rate (0.62, 62%%) or a column holding it")
    gaps.add_argument(
        "--threshold", type=int, help="suppression threshold (default QPV_GAPS_THRESHOLD, 11)"
    )
    gaps.add_argument("--confidence", type=float, default=0.95)
    gaps.add_argument("--seed", type=int, default=0, help="bootstrap seed (ratio)")
    raw = gaps.add_argument_group(
        "tagging a raw file first (the options of qpv tag; ignored when INPUT is tagged)"
    )
    raw.add_argument("--columns", action="append", default=[], help="address column (repeatable)")
    for name in ("postcode", "citycode", "lat", "lon", "x", "y", "provider"):
        raw.add_argument(f"--{name}", default=None)
    raw.add_argument("--geography", choices=[g.value for g in Geography], default=None)
    raw.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    gaps.add_argument(
        "--format", choices=[f.value for f in ReportFormat], help="default: from -o, else json"
    )
    gaps.add_argument("-o", "--output", type=Path, help="default: standard output")
    gaps.set_defaults(func=_gaps)

    example: argparse.ArgumentParser = groups.add_parser("example", help="synthetic example files")
    kinds = example.add_subparsers(dest="kind", required=True)
    adm = kinds.add_parser(
        "admissions",
        help="applicants drawn from the BAN extracts, with a known QPV gap by sex",
    )
    adm.add_argument("-o", "--output", type=Path, default=Path("admissions.csv"))
    adm.add_argument("--rows", type=int, default=20_000)
    adm.add_argument("--seed", type=int, default=42)
    adm.add_argument(
        "--tagged",
        action="store_true",
        help="add the qpv_* columns from the BAN coordinates (as a batch would)",
    )
    adm.add_argument(
        "--coordinates",
        action="store_true",
        help="add lon/lat columns (the BAN address point) to tag by coordinates",
    )
    adm.set_defaults(func=_admissions)


def _format(args: argparse.Namespace) -> ReportFormat:
    if args.format:
        return ReportFormat(args.format)
    suffix = args.output.suffix.lstrip(".").lower() if args.output else ""
    return ReportFormat(suffix) if suffix in {f.value for f in ReportFormat} else ReportFormat.JSON


def _gaps(args: argparse.Namespace) -> int:
    from app.stats import service

    settings = Settings()
    indicator = service.indicator_of(
        args.outcome,
        args.shares,
        args.ratio,
        args.positive,
        args.negative,
        args.reference,
        args.seed,
    )
    analysis = service.analysis_of(
        indicator,
        args.by,
        settings.gaps_threshold if args.threshold is None else args.threshold,
        args.confidence,
    )
    if not args.input.is_file():
        raise InvalidInput(f"{args.input}: no such file")
    table, tagging = service.load_input(args.input, analysis, _tag(args, settings))
    report = service.report_of(table, analysis, tagging)
    body = service.rendered(report, _format(args))
    if args.output:
        args.output.write_bytes(body)
        sup = report.suppression
        print(
            f"{args.output}: {len(report.table)} lines, {sup['primaires']} cells suppressed "
            f"(< {sup['seuil']} records) and {sup['secondaires']} secondarily",
            file=sys.stderr,
        )
    else:
        sys.stdout.buffer.write(body)
    return 0


def _tag(args: argparse.Namespace, settings: Settings) -> service.Tag | None:
    """Tagging of a raw INPUT with the batch pipeline, when batch options are given."""
    if not (args.columns or args.postcode or args.citycode or args.lat or args.lon or args.x):
        return None
    from app.stats import service
    from app.tag_cli import build_tagger, options_from

    # qpv tag's own reading of its options; the tagged file is an intermediate CSV.
    tag_args = argparse.Namespace(
        **{**vars(args), "format": "csv", "output": "tagged.csv", "result_columns": None},
        delimiter=None,
        encoding=None,
        distances=False,
    )
    options = options_from(tag_args)

    def tag(src: Path, dst: Path) -> dict[str, Any]:
        return service.batch_tag(build_tagger(settings), options)(src, dst)

    return tag


def _admissions(args: argparse.Namespace) -> int:
    import pandas as pd

    from app.db.loader import load_index
    from app.db.session import make_engine
    from app.stats import example

    settings = Settings()
    ban_files = sorted((settings.data_dir / "ban").glob("adresses-*.csv*"))
    engine = make_engine(settings.database_url)
    try:
        index = load_index(engine)
    finally:
        engine.dispose()
    if not index.geographies:
        raise InvalidInput("no QPV geography in the database: run `qpv data sync` first")
    drawn = example.admissions(example.read_ban(ban_files), index, args.rows, args.seed)
    table = example.tagged_file(drawn) if args.tagged else drawn.rows
    if args.coordinates:
        table = pd.concat([table, drawn.coordinates], axis=1)
    table.to_csv(args.output, index=False)
    counts = drawn.truth["qpv_status"].value_counts().to_dict()
    print(f"{args.output}: {len(table)} rows; statuses of their BAN coordinates: {counts}")
    return 0
