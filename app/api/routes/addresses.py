"""``GET /v1/address``: is this address in a QPV?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import ResolverDep, WhenDep
from app.api.metrics import count_lookup
from app.api.schemas import AddressResult, json_response
from app.geocoding.base import AddressQuery

router = APIRouter(tags=["lookups"])
Text = Annotated[str | None, Query(max_length=250)]


@router.get("/address", response_model=AddressResult)
async def address(
    resolver: ResolverDep,
    when: WhenDep,
    request: Request,
    q: Annotated[str | None, Query(max_length=250, description="free-text address")] = None,
    numero: Text = None,
    voie: Text = None,
    code_postal: Text = None,
    commune: Text = None,
    citycode: Text = None,
    provider: Annotated[
        str | None, Query(description="geocoder; default: the first configured")
    ] = None,
) -> Response:
    """Geocode an address (free text or structured fields) and answer it against the QPV."""
    query = AddressQuery(q, numero, voie, code_postal, commune, citycode)
    answer = await resolver.resolve(query, provider, when.geography, when.as_of)
    count_lookup(request, "address", answer.status)
    return json_response(AddressResult.of(answer))
