"""Batch tagging: one pipeline for the API, the jobs, the CLI and pandas (plain Python, no web).

Contract (names kept stable for the jobs on branch ``jobs``)::

    from app.batch import TagOptions, Tagger, TagSummary, split_input, join_outputs

    options = TagOptions(lat="lat", lon="lon")         # or columns=("adresse",), postcode=...
    options.check()                                    # InvalidInput naming the parameter
    tagger = Tagger(index, resolver, settings)         # resolver: AddressResolver | None
    summary = tagger.tag_file(src, dst, options, progress=bar.update)   # any format -> any
    summary.rows, summary.counts["in"], summary.seconds

    # A job split in parts that several workers tag, reassembled in input order:
    split = split_input(src, folder, rows_per_chunk=50_000, options=options)
    split.rows                                         # data rows in the whole input
    parts = []
    for i, chunk in enumerate(split.chunks):           # any worker, any order
        part = folder / f"part-{i:05d}.out"
        tagger.tag_file(chunk, part, split.options)    # split.options, not options
        parts.append(part)
    join_outputs(parts, dst, split.options)            # final file, input order

- ``TagOptions``: which columns hold the address or the coordinates (BAN conventions:
  ``columns`` joined, ``postcode``, ``citycode``, ``lat``/``lon`` or ``x``/``y`` in
  Lambert-93), which geography (``geography`` or ``as_of``), ``provider``,
  ``result_columns`` (a subset of RESULT_COLUMNS), input ``delimiter``/``encoding``
  (detected when None) and ``output_format`` (None: the input's format).
- ``Tagger.tag_file`` reads CSV (any delimiter, UTF-8 with or without BOM, Windows-1252) or
  .xlsx and writes csv / xlsx / parquet / geojson; every input row comes out, in order, with
  the input columns kept and the result columns appended. ``Tagger.atag_file`` is the same
  inside a running event loop; ``Tagger.stream`` yields the output bytes as they are made.
- ``split_input`` cuts an input into chunk files of at most ``rows_per_chunk`` data rows
  that ``tag_file`` accepts with ``split.options`` (format, delimiter and encoding resolved
  once for the whole file); ``join_outputs`` concatenates the tagged parts, given in chunk
  order, into one file of ``split.options.output_format``.
- ``tag_frame(df, tagger, columns=..., lat=..., lon=...)``: the same on a DataFrame
  (a GeoDataFrame with ``geo=True``); ``app.tag_cli.build_tagger(settings)`` loads a Tagger.
- Errors: ``app.errors.InvalidInput`` (bad options, unknown column; ``extra["parameter"]``
  names the option) and ``app.errors.TooLarge`` (past a size or row limit).
"""

from app.batch.chunks import Split, join_outputs, split_input
from app.batch.frame import tag_frame
from app.batch.options import RESULT_COLUMNS, OutputFormat, TagOptions
from app.batch.pipeline import Tagger, TagSummary

__all__ = [
    "RESULT_COLUMNS",
    "OutputFormat",
    "Split",
    "TagOptions",
    "TagSummary",
    "Tagger",
    "join_outputs",
    "split_input",
    "tag_frame",
]
