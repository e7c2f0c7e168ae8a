"""Request dependencies as ``Annotated`` aliases: state, database session, shared parameters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from app.addresses import AddressResolver
from app.errors import NotReady
from app.settings import Settings
from app.spatial.geography import Geography
from app.spatial.index import QpvIndex


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _index(request: Request) -> QpvIndex:
    index: QpvIndex | None = request.app.state.index
    if index is None:
        raise NotReady("the QPV index is not loaded yet")
    return index


def _resolver(request: Request) -> AddressResolver:
    return AddressResolver(_index(request), request.app.state.geocoders, request.app.state.settings)


def _session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


@dataclass(frozen=True, slots=True)
class When:
    """Which geography to answer in: named, or the one in force at a date."""

    geography: Geography | None
    as_of: date | None


def _when(
    geography: Annotated[
        Geography | None,
        Query(description="QPV geography; default: the one in force today at the place"),
    ] = None,
    as_of: Annotated[
        date | None,
        Query(description="answer in the geography in force on this date at the place"),
    ] = None,
) -> When:
    return When(geography, as_of)


SettingsDep = Annotated[Settings, Depends(_settings)]
IndexDep = Annotated[QpvIndex, Depends(_index)]
SessionDep = Annotated[Session, Depends(_session)]
WhenDep = Annotated[When, Depends(_when)]
ResolverDep = Annotated[AddressResolver, Depends(_resolver)]
