"""``GET /v1/address``: is this address in a QPV?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.api.deps import ResolverDep
from app.api.metrics import count_lookup
from app.api.params import AddressParams, openapi_parameters, query_model
from app.api.schemas import AddressResult, json_response

router = APIRouter(tags=["lookups"])
Params = Annotated[AddressParams, Depends(query_model(AddressParams))]


@router.get(
    "/address", response_model=AddressResult, openapi_extra=openapi_parameters(AddressParams)
)
async def address(resolver: ResolverDep, params: Params, request: Request) -> Response:
    """Geocode an address (free text or structured fields) and answer it against the QPV.

    Parameters take BAN's names (``q``, ``housenumber``, ``street``, ``postcode``, ``city``,
    ``citycode``, ``type``, ``limit``, ``lat``/``lon``) or the French ones (``numero``,
    ``voie``, ``code_postal``, ``commune``, ``code_insee``); any other is a 422.
    """
    answer = await resolver.resolve(
        params.query(), params.provider, params.geography, params.as_of, params.hints()
    )
    count_lookup(request, "address", answer.status)
    return json_response(AddressResult.of(answer))
