"""The form fields of ``POST /search/csv/`` and ``/reverse/csv/`` as batch options.

API Adresse's conventions, on the batch pipeline of ``/v1/batch/csv`` (same streaming, same
limits, every row back in order): without ``columns`` every column is joined into the
address; ``lat``/``lon`` name the columns of a point to prefer results near (search) or of
the point itself (reverse: by default the columns ``latitude``/``lat`` and
``longitude``/``lon``/``lng``/``long``, as addok-csv looks for them). The result columns are
API Adresse's, in its order, then the QPV columns; ``result_columns`` picks API Adresse's
(the QPV columns follow unless some are named).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from app.adresse.params import bad
from app.batch.options import QPV_COLUMNS, OutputFormat, TagOptions
from app.batch.pipeline import column_index
from app.errors import InvalidInput, echo
from app.geocoding.adresse import REVERSE_CSV_COLUMNS, SEARCH_CSV_COLUMNS
from app.spatial.geography import Geography

Form = Mapping[str, Sequence[str]]  # text field -> every value given
SEARCH_FIELDS = (
    "columns", "postcode", "citycode", "lat", "lon", "result_columns",
    "delimiter", "encoding", "geography", "as_of",
)  # fmt: skip
REVERSE_FIELDS = ("lat", "lon", "result_columns", "delimiter", "encoding", "geography", "as_of")
_LAT_NAMES = ("latitude", "lat")
_LON_NAMES = ("longitude", "lon", "lng", "long")


def reading(form: Form, accepted: Sequence[str]) -> TagOptions:
    """What is needed to read the file's header: its delimiter and encoding."""
    unknown = [name for name in form if name not in accepted]
    if unknown:
        raise bad(unknown[0], f"unknown form field; accepted: data, {', '.join(accepted)}")
    return TagOptions(delimiter=_one(form, "delimiter"), encoding=_one(form, "encoding"))


def search_options(form: Form, header: list[str]) -> TagOptions:
    """The options of a /search/csv/ upload whose header is ``header``."""
    columns = tuple(v for v in form.get("columns", ()) if v) or tuple(header)
    lat, lon = _one(form, "lat"), _one(form, "lon")
    if (lat is None) != (lon is None):
        raise bad("lon" if lon is None else "lat", "lat= and lon= name two columns together")
    return _common(form).with_(
        columns=columns,
        postcode=_one(form, "postcode"),
        citycode=_one(form, "citycode"),
        near=(lat, lon) if lat is not None and lon is not None else None,
        result_columns=_result_columns(form, SEARCH_CSV_COLUMNS),
    )


def reverse_options(form: Form, header: list[str]) -> TagOptions:
    """The options of a /reverse/csv/ upload whose header is ``header``."""
    lat = _one(form, "lat") or _found(header, _LAT_NAMES, "lat")
    lon = _one(form, "lon") or _found(header, _LON_NAMES, "lon")
    return _common(form).with_(
        lat=lat,
        lon=lon,
        reverse=True,
        distances=True,
        result_columns=_result_columns(form, REVERSE_CSV_COLUMNS),
    )


def _common(form: Form) -> TagOptions:
    geography, as_of = _one(form, "geography"), _one(form, "as_of")
    try:
        when = Geography(geography) if geography else None
    except ValueError:
        raise bad("geography", f"{echo(geography)} is not 2015 or 2024") from None
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise bad("as_of", "must be YYYY-MM-DD") from None
    return TagOptions(
        geography=when,
        as_of=day,
        delimiter=_one(form, "delimiter"),
        encoding=_one(form, "encoding"),
        output_format=OutputFormat.CSV,
    )


def _result_columns(form: Form, adresse: tuple[str, ...]) -> tuple[str, ...]:
    asked = tuple(v for v in form.get("result_columns", ()) if v)
    if not asked:
        return adresse + QPV_COLUMNS
    unknown = [c for c in asked if c not in adresse and c not in QPV_COLUMNS]
    if unknown:
        choices = ", ".join(adresse + QPV_COLUMNS)
        raise bad("result_columns", f"unknown column {echo(unknown[0])}; choose among {choices}")
    return asked if any(c in QPV_COLUMNS for c in asked) else asked + QPV_COLUMNS


def _found(header: list[str], names: tuple[str, ...], field: str) -> str:
    """The first of ``names`` the header has (any case), for the reverse's coordinates."""
    for name in names:
        try:
            return header[column_index(header, name, field)]
        except InvalidInput:
            continue
    raise bad(field, f"no column {' or '.join(names)} in the header: name it with {field}=")


def _one(form: Form, name: str) -> str | None:
    values = [v for v in form.get(name, ()) if v]
    if len(values) > 1:
        raise bad(name, "give this field once")
    return values[0] if values else None
