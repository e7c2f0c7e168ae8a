"""The multipart form of a file to tag (``POST /v1/batch/csv`` and ``POST /v1/jobs``).

BAN's ``/search/csv`` conventions: ``data`` is the file, ``columns`` (repeatable) are joined
into the address, ``postcode``/``citycode`` help the geocoder, ``result_columns`` (repeatable)
picks the appended columns; ``lat``/``lon`` or ``x``/``y`` name coordinate columns instead.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Form

from app.batch import OutputFormat, TagOptions
from app.spatial.geography import Geography

_Column = Annotated[str | None, Form(max_length=200)]


async def _tag_options(
    columns: Annotated[list[str] | None, Form(description="address columns, joined")] = None,
    postcode: _Column = None,
    citycode: _Column = None,
    lat: _Column = None,
    lon: _Column = None,
    x: Annotated[str | None, Form(max_length=200, description="Lambert-93 easting column")] = None,
    y: Annotated[str | None, Form(max_length=200, description="Lambert-93 northing column")] = None,
    geography: Annotated[Geography | None, Form()] = None,
    as_of: Annotated[date | None, Form(description="the geography in force on this date")] = None,
    provider: Annotated[str | None, Form(max_length=20)] = None,
    result_columns: Annotated[list[str] | None, Form(description="appended columns")] = None,
    delimiter: Annotated[str | None, Form(max_length=1, description="default: detected")] = None,
    encoding: Annotated[str | None, Form(max_length=40, description="default: detected")] = None,
    format: Annotated[OutputFormat | None, Form(description="default: the input's")] = None,
    distances: Annotated[bool, Form(description="qpv_distance_m for every row")] = False,
) -> TagOptions:
    options = TagOptions(
        columns=tuple(columns or ()),
        postcode=postcode,
        citycode=citycode,
        lat=lat,
        lon=lon,
        x=x,
        y=y,
        geography=geography,
        as_of=as_of,
        provider=provider,
        result_columns=tuple(result_columns) if result_columns else None,
        delimiter=delimiter,
        encoding=encoding,
        output_format=format,
        distances=distances,
    )
    return options.check()


TagOptionsForm = Annotated[TagOptions, Depends(_tag_options)]
