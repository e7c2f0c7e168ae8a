"""``GET /v1/qpv`` and ``GET /v1/qpv/{code}``: the quartiers themselves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.api.deps import DivisionsDep, IndexDep, SettingsDep
from app.api.problems import PROBLEM_RESPONSES
from app.api.schemas import DatasetRef, QpvFeature, QpvPage, Quartier
from app.errors import InvalidInput, NotFound
from app.spatial.features import served_geometry
from app.spatial.geography import Geography, geography_of_code
from app.spatial.index import HEXAGONE

router = APIRouter(tags=["quartiers"])


@router.get("/qpv", response_model=QpvPage)
async def list_quartiers(
    index: IndexDep,
    settings: SettingsDep,
    divisions: DivisionsDep,
    geography: Annotated[
        Geography | None, Query(description="default: the geography in force today")
    ] = None,
    commune: Annotated[
        str | None,
        Query(
            max_length=100,
            description="INSEE code (current, former or arrondissement) or part of a commune name",
        ),
    ] = None,
    departement: Annotated[
        str | None, Query(pattern=r"^(\d{1,3}|2[AaBb])$", description="e.g. 93, 2A, 974")
    ] = None,
    name: Annotated[str | None, Query(max_length=100, description="part of the name")] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> QpvPage:
    """Quartiers of one geography, filtered by commune, département and name, paginated."""
    if limit > settings.max_page_size:
        raise InvalidInput(f"limit must be at most {settings.max_page_size}")
    geo = index.choose(geography, None, HEXAGONE)
    if commune and divisions is not None:
        commune = divisions.canonical_commune(commune)
    ids = geo.search(commune=commune, departement=departement, name=name)
    return QpvPage(
        geography=str(geo.geography),
        dataset=DatasetRef.of(geo.dataset),
        total=len(ids),
        limit=limit,
        offset=offset,
        items=[Quartier.of(geo.infos[i]) for i in ids[offset : offset + limit]],
    )


@router.get(
    "/qpv/{code}",
    response_model=QpvFeature,
    responses={
        200: {"content": {"application/geo+json": {}}},
        413: {**PROBLEM_RESPONSES[422], "description": "Geometry past the vertex limit"},
    },
)
async def get_quartier(
    index: IndexDep,
    settings: SettingsDep,
    code: str,
    simplify: Annotated[
        float,
        Query(
            ge=0,
            le=10_000,
            allow_inf_nan=False,
            description="simplify the geometry by this many metres (0: exact); a geometry "
            "past the server's vertex limit is a 413 that asks for it",
        ),
    ] = 0,
) -> Response:
    """One quartier as a GeoJSON Feature; the geography follows from the code's format."""
    code = code.strip().upper()
    geo = index.get(geography_of_code(code))
    position = geo.by_code.get(code)
    if position is None:
        raise NotFound(f"no quartier {code} in the {geo.geography} geography", code=code)
    body = geo.served.get((code, simplify))
    if body is None:
        geometry = served_geometry(
            code, geo.geoms[position], simplify, settings.geometry_max_vertices
        )
        properties: dict[str, Any] = Quartier.of(geo.infos[position]).model_dump()
        properties |= {"geography": str(geo.geography), "dataset": DatasetRef.of(geo.dataset)}
        feature = QpvFeature(id=code, geometry=geometry, properties=properties)
        body = feature.model_dump_json().encode()
        geo.served.put((code, simplify), body)
    return Response(body, media_type="application/geo+json")
