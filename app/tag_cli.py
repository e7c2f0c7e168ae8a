"""``qpv tag INPUT -o OUTPUT``: tag a file in-process, without the server.

It sits beside the other CLIs rather than in ``app.batch`` because it wires the adapters
(database engine, index loader, geocoders) to the plain-Python pipeline.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

from app.batch import OutputFormat, Tagger, TagOptions, TagSummary, join_outputs, split_input
from app.batch.options import RESULT_COLUMNS
from app.batch.readers import count_rows
from app.errors import InvalidInput
from app.settings import Settings
from app.spatial.geography import Geography

_SUFFIX_FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".geojson": "geojson"}


def register(groups: Any) -> None:
    """Add ``qpv tag``."""
    p = groups.add_parser("tag", help="tag a CSV or .xlsx file with QPV answers, in order")
    p.add_argument("input", help="CSV or .xlsx file, or - for standard input")
    p.add_argument("-o", "--output", required=True, help="output file, or - for standard output")
    p.add_argument("--columns", action="append", default=[], help="address column (repeatable)")
    for name in ("postcode", "citycode", "lat", "lon", "x", "y", "provider", "delimiter"):
        p.add_argument(f"--{name}", default=None)
    p.add_argument("--encoding", default=None, help="CSV encoding (default: detected)")
    p.add_argument("--geography", choices=[g.value for g in Geography], default=None)
    p.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    p.add_argument("--format", choices=[f.value for f in OutputFormat], default=None)
    p.add_argument(
        "--result-columns",
        action="append",
        default=None,
        choices=RESULT_COLUMNS,
        help="result column to write (repeatable; default: all)",
    )
    p.add_argument("--distances", action="store_true", help="qpv_distance_m for every row")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument("--chunk-rows", type=int, default=50_000, help=argparse.SUPPRESS)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar nor summary")
    p.set_defaults(func=run)


def options_from(args: argparse.Namespace) -> TagOptions:
    """The TagOptions of the command line (output format from -o's suffix by default)."""
    fmt = args.format or _SUFFIX_FORMATS.get(Path(args.output).suffix.lower())
    return TagOptions(
        columns=tuple(args.columns),
        postcode=args.postcode,
        citycode=args.citycode,
        lat=args.lat,
        lon=args.lon,
        x=args.x,
        y=args.y,
        geography=Geography(args.geography) if args.geography else None,
        as_of=args.as_of,
        provider=args.provider,
        result_columns=tuple(args.result_columns) if args.result_columns else None,
        delimiter="\t" if args.delimiter in ("tab", "\\t") else args.delimiter,
        encoding=args.encoding,
        output_format=OutputFormat(fmt) if fmt else None,
        distances=args.distances,
    ).check()


def build_tagger(settings: Settings) -> Tagger:
    """Load the index and the geocoders from the configured database."""
    return load_tagger(settings)[0]


def load_tagger(settings: Settings) -> tuple[Tagger, int]:
    """``build_tagger``, and the data generation it was loaded from (read with the data)."""
    from app.data.runtime import load_runtime
    from app.db.session import make_engine

    # The index and the geocoder's tables are millions of objects that live as long as the
    # process: no collection while they are built, then frozen out of the collector's sight
    # (each full collection would walk them all again).
    collecting = gc.isenabled()
    gc.disable()
    try:
        runtime = load_runtime(settings, make_engine(settings.database_url))
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    tagger = Tagger.of(runtime.index, runtime.geocoders, settings, runtime.divisions)
    return tagger, runtime.state.generation


def run(args: argparse.Namespace) -> int:
    """Tag INPUT into OUTPUT and print a summary on standard error."""
    options = options_from(args)
    if args.workers < 1:
        raise InvalidInput("--workers must be at least 1")
    settings = Settings()
    # Each block makes hundreds of thousands of short-lived objects without cycles: young
    # collections every 700 allocations would mostly walk the block's own live rows.
    gc.set_threshold(100_000, 20, 20)
    with ExitStack() as stack:
        src = _input_path(args.input, stack)
        dst = _output_path(args.output, stack)
        if args.workers > 1:
            summary = _run_parallel(src, dst, options, args)
        else:
            tagger = build_tagger(settings)
            with open(src, "rb") as f:
                tagger.open(f, options)
            bar = _progress(src, options, args.quiet)
            try:
                summary = tagger.tag_file(src, dst, options, bar.update if bar else None)
            finally:
                if bar is not None:
                    bar.close()
        if args.output == "-":
            with open(dst, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    if not args.quiet:
        print(format_summary(summary), file=sys.stderr)
    return 0


def _input_path(name: str, stack: ExitStack) -> Path:
    if name == "-":
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qpv-tag-")))
        path = folder / "stdin"
        with open(path, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f)
        return path
    path = Path(name)
    if not path.is_file():
        raise InvalidInput(f"cannot read {name}: no such file")
    return path


def _output_path(name: str, stack: ExitStack) -> Path:
    if name == "-":
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qpv-tag-")))
        return folder / "stdout"
    path = Path(name)
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot write {name}: no such folder")
    return path


def _progress(src: Path, options: TagOptions, quiet: bool) -> Any:
    """A tqdm bar (rows/s, ETA) on a terminal, else None."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    with open(src, "rb") as f:
        total = count_rows(f, options)
    return tqdm(total=total, unit=" rows", unit_scale=True, file=sys.stderr, smoothing=0.1)


def format_summary(summary: TagSummary) -> str:
    """One line: rows, time, rate and counts per status."""
    rate = summary.rows / summary.seconds if summary.seconds else 0.0
    counts = ", ".join(
        f"{k} {v:,}" for k, v in sorted(summary.counts.items(), key=lambda kv: -kv[1])
    )
    return (
        f"qpv: {summary.rows:,} rows in {summary.seconds:.1f} s ({rate:,.0f} rows/s): "
        f"{counts or 'no row'}"
    )


# --------------------------------------------------------------------- --workers N

_WORKER: dict[str, Tagger] = {}


def _init_worker() -> None:
    _WORKER["tagger"] = build_tagger(Settings())


def _tag_chunk(chunk: str, part: str, options: TagOptions) -> TagSummary:
    return _WORKER["tagger"].tag_file(Path(chunk), Path(part), options)


def _run_parallel(
    src: Path, dst: Path, options: TagOptions, args: argparse.Namespace
) -> TagSummary:
    """Split the input, tag the chunks in N processes, join the parts in order."""
    started = time.perf_counter()
    total = TagSummary()
    with tempfile.TemporaryDirectory(prefix="qpv-tag-", dir=os.environ.get("TMPDIR")) as tmp:
        folder = Path(tmp)
        split = split_input(src, folder / "in", args.chunk_rows, options)
        parts = [folder / f"part-{i:05d}" for i in range(len(split.chunks))]
        bar = None
        if not args.quiet and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=split.rows, unit=" rows", unit_scale=True, file=sys.stderr)
        with ProcessPoolExecutor(args.workers, initializer=_init_worker) as pool:
            futures = [
                pool.submit(_tag_chunk, str(c), str(p), split.options)
                for c, p in zip(split.chunks, parts, strict=True)
            ]
            for future in as_completed(futures):
                done = future.result()
                total.rows += done.rows
                for k, v in done.counts.items():
                    total.counts[k] = total.counts.get(k, 0) + v
                if bar is not None:
                    bar.update(done.rows)
        if bar is not None:
            bar.close()
        join_outputs(parts, dst, split.options)
    total.seconds = time.perf_counter() - started
    return total
