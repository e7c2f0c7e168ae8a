"""What a process answers from, loaded from the database: divisions, QPV index, geocoders.

The API's lifespan, ``qpv tag``, the job workers and ``qpv gaps`` all load the same state,
so they all answer alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from app.data.ban_import import load_local_geocoder_if_ready
from app.db.divisions import load_divisions
from app.db.loader import load_index
from app.db.publication import DataState, read_state
from app.divisions import AdminDivisions
from app.geocoding.base import Geocoder
from app.geocoding.providers import build_geocoders
from app.settings import Settings
from app.spatial.index import QpvIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    """The loaded reference data of one process."""

    divisions: AdminDivisions | None
    index: QpvIndex
    geocoders: dict[str, Geocoder]
    state: DataState  # the data generation and the current data, as read together


def load_runtime(settings: Settings, engine: Engine) -> Runtime:
    """Load the divisions, the index of every geography and the enabled geocoders."""
    # The generation and the datasets it names, in one read: an import committed while this
    # loads is another generation, seen at the next check, never mixed into this one
    # (a dataset never changes once stored, so loading it later by id loads the same data).
    state = read_state(engine)
    # Optional: without them the service still answers, naming fewer communes and
    # checking postcodes and INSEE codes by their shape only (/readyz says so).
    divisions = None if state.divisions_id is None else load_divisions(engine, state.divisions_id)
    if divisions is None:
        log.warning("no administrative divisions: run `qpv data sync`")
    index = load_index(engine, divisions, state.datasets)
    log.info(
        "index loaded: %s",
        ", ".join(
            f"{g} ({geo.dataset.feature_count} QPV, {geo.dataset.version})"
            for g, geo in index.geographies.items()
        )
        or "no geography",
    )
    geocoders = build_geocoders(
        settings, lambda: load_local_geocoder_if_ready(engine, settings.geocoder_dir)
    )
    return Runtime(divisions, index, geocoders, state)
