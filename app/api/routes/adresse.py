"""API Adresse's own interface beside /v1: change the base URL, keep your code.

``GET /search/``, ``GET /reverse/`` (GeocodeJSON), ``POST /search/csv/`` and
``POST /reverse/csv/`` (CSV), each with and without its trailing slash as API Adresse
serves them, and each answer with the QPV answer added (see app/adresse). Errors are
addok's statuses (400 for a bad parameter, 413 past a size) in this service's one shape,
problem+json, carrying addok's ``description`` and addok-server's ``code``/``message`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import FormData

from app.adresse import forms
from app.adresse.params import (
    REVERSE_PARAMETERS,
    SEARCH_PARAMETERS,
    bad,
    reverse_params,
    search_params,
)
from app.adresse.service import AdresseApi
from app.api.deps import ResolverDep, SettingsDep, TaggerDep
from app.api.uploads import prepared_upload, tagged_response
from app.batch import Tagger, TagOptions
from app.batch.readers import resolve
from app.errors import BadParameter, InvalidInput
from app.settings import Settings

router = APIRouter(tags=["API Adresse"])
_JSON = "application/json; charset=utf-8"


def _parameters(names: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "parameters": [
            {"name": n, "in": "query", "required": n in required, "schema": {"type": "string"}}
            for n in names
        ]
    }


@contextmanager
def addok_errors() -> Iterator[None]:
    """A refused value is a 400 naming its parameter, as addok answers it."""
    try:
        yield
    except BadParameter:
        raise
    except InvalidInput as exc:
        name = str(exc.extra.get("parameter") or "q")
        message = exc.detail.removeprefix(f"{name}: ")
        raise bad(name, message) from None


def _query(request: Request) -> dict[str, list[str]]:
    params = request.query_params
    return {key: params.getlist(key) for key in dict.fromkeys(params.keys())}


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type=_JSON)


@router.get("/search/", openapi_extra=_parameters(SEARCH_PARAMETERS, ("q",)))
@router.get("/search", include_in_schema=False)
async def search(request: Request, resolver: ResolverDep) -> Response:
    """Search addresses as API Adresse does (autocompletion by default), each feature with
    its QPV answer (``qpv_status``, ``qpv_code``, ``qpv_name``, ``qpv_distance_m``...)."""
    with addok_errors():
        params = search_params(_query(request))
        return _json(await AdresseApi(resolver).search(params))


@router.get("/reverse/", openapi_extra=_parameters(REVERSE_PARAMETERS, ("lat", "lon")))
@router.get("/reverse", include_in_schema=False)
async def reverse(request: Request, resolver: ResolverDep) -> Response:
    """The address points nearest a position (offline tables), each with its QPV answer."""
    with addok_errors():
        params = reverse_params(_query(request))
        return _json(AdresseApi(resolver).reverse(params))


Build = Callable[[forms.Form, list[str]], TagOptions]


def _form_body(fields: tuple[str, ...]) -> dict[str, Any]:
    """The OpenAPI of a CSV upload and its form fields (parsed while the bytes are counted)."""
    lists = ("columns", "result_columns")
    properties: dict[str, Any] = {"data": {"type": "string", "format": "binary"}}
    for name in fields:
        text = {"type": "string"}
        properties[name] = {"type": "array", "items": text} if name in lists else text
    schema = {"type": "object", "required": ["data"], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


async def _csv(
    request: Request,
    tagger: Tagger,
    settings: Settings,
    accepted: tuple[str, ...],
    build: Build,
) -> StreamingResponse:
    """A CSV upload through the batch pipeline, read with API Adresse's form conventions."""

    def options_of(form: FormData, file: IO[bytes]) -> TagOptions:
        fields = {
            key: [v for v in form.getlist(key) if isinstance(v, str)]
            for key in form
            if key != "data"
        }
        source, _ = resolve(file, forms.reading(fields, accepted))
        return build(fields, source.header)

    with addok_errors():
        upload = await prepared_upload(request, tagger, settings, options_of)
    return tagged_response(upload, tagger, settings, name="geocoded")


@router.post(
    "/search/csv/",
    openapi_extra=_form_body(forms.SEARCH_FIELDS),
    response_class=StreamingResponse,
)
@router.post("/search/csv", include_in_schema=False)
async def search_csv(request: Request, tagger: TaggerDep, settings: SettingsDep) -> Response:
    """Geocode a CSV file as API Adresse does (``columns``, ``postcode``, ``citycode``,
    ``result_columns``; no ``columns``: every column), the QPV columns after its own."""
    return await _csv(request, tagger, settings, forms.SEARCH_FIELDS, forms.search_options)


@router.post(
    "/reverse/csv/",
    openapi_extra=_form_body(forms.REVERSE_FIELDS),
    response_class=StreamingResponse,
)
@router.post("/reverse/csv", include_in_schema=False)
async def reverse_csv(request: Request, tagger: TaggerDep, settings: SettingsDep) -> Response:
    """Each row's nearest address (columns ``lat``/``lon``, or latitude/longitude), the QPV
    answer of the row's own point after API Adresse's columns."""
    return await _csv(request, tagger, settings, forms.REVERSE_FIELDS, forms.reverse_options)
