"""Request dependencies as ``Annotated`` aliases: state, database session, shared parameters.

The cheap ones are ``async def``: FastAPI runs plain ``def`` dependencies in its thread pool,
which costs more than the point lookup itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.addresses import AddressResolver
from app.api.access import api_key_of
from app.api.params import IsoDate, PointQuery, query_model
from app.batch import Tagger
from app.db.health import failure_name
from app.divisions import AdminDivisions
from app.errors import NotReady, StorageUnavailable
from app.jobs.service import Jobs
from app.settings import Settings
from app.spatial.geography import Geography
from app.spatial.index import QpvIndex


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _index(request: Request) -> QpvIndex:
    index: QpvIndex | None = request.app.state.index
    if index is None:
        raise NotReady("the QPV index is not loaded yet")
    return index


async def _divisions(request: Request) -> AdminDivisions | None:
    divisions: AdminDivisions | None = request.app.state.divisions
    return divisions


async def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


async def _owner(request: Request) -> str | None:
    key = api_key_of(request.state)
    return key.owner if key is not None else None


async def _resolver(request: Request) -> AddressResolver:
    index = await _index(request)
    state = request.app.state
    return AddressResolver(index, state.geocoders, state.settings, state.divisions)


async def _tagger(request: Request) -> Tagger:
    index = await _index(request)
    state = request.app.state
    return Tagger.of(index, state.geocoders, state.settings, state.divisions)


def _session(request: Request) -> Iterator[Session]:
    try:
        with Session(request.app.state.engine) as session:
            yield session
    except SQLAlchemyError as exc:
        # A deleted or corrupt file, a stopped server: the storage is down, not the request
        # wrong (point lookups still answer from memory).
        raise StorageUnavailable(
            f"the database does not answer ({failure_name(exc)}); point lookups still work"
        ) from None


@dataclass(frozen=True, slots=True)
class When:
    """Which geography to answer in: named, or the one in force at a date."""

    geography: Geography | None
    as_of: date | None


async def _when(
    geography: Annotated[
        Geography | None,
        Query(description="QPV geography; default: the one in force today at the place"),
    ] = None,
    as_of: Annotated[
        IsoDate | None,
        Query(description="answer in the geography in force on this date at the place"),
    ] = None,
) -> When:
    return When(geography, as_of)


@dataclass(frozen=True, slots=True)
class PointLookup:
    """Everything ``/v1/point`` needs, resolved in one dependency (it is the hot path)."""

    query: PointQuery
    index: QpvIndex
    tolerance_m: float


_point_query = query_model(PointQuery)


async def _point_lookup(request: Request) -> PointLookup:
    query = await _point_query(request)
    settings = await _settings(request)
    return PointLookup(query, await _index(request), settings.boundary_tolerance_m)


SettingsDep = Annotated[Settings, Depends(_settings)]
IndexDep = Annotated[QpvIndex, Depends(_index)]
DivisionsDep = Annotated[AdminDivisions | None, Depends(_divisions)]
SessionDep = Annotated[Session, Depends(_session)]
WhenDep = Annotated[When, Depends(_when)]
ResolverDep = Annotated[AddressResolver, Depends(_resolver)]
TaggerDep = Annotated[Tagger, Depends(_tagger)]
PointLookupDep = Annotated[PointLookup, Depends(_point_lookup)]
JobsDep = Annotated[Jobs, Depends(_jobs)]
# The owner of the caller's jobs: its API key (None in open mode: every job is everyone's).
OwnerDep = Annotated[str | None, Depends(_owner)]
