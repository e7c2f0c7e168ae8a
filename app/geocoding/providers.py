"""Build the configured geocoders (``QPV_GEOCODERS``), in order of preference."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.geocoding.ban import BanGeocoder
from app.geocoding.base import Geocoder
from app.geocoding.local import LocalGeocoder
from app.settings import Settings

log = logging.getLogger(__name__)


def build_geocoders(
    settings: Settings, load_local: Callable[[], LocalGeocoder | None]
) -> dict[str, Geocoder]:
    """The enabled providers by name; ``local`` is skipped while it has no address.

    ``load_local`` builds the offline geocoder from wherever its tables are stored, or says
    ``None`` when they cannot be read (it logs why).
    """
    geocoders: dict[str, Geocoder] = {}
    for name in settings.geocoders:
        if name == "ban":
            geocoders[name] = BanGeocoder.from_settings(settings)
        elif name == "local":
            local = load_local()
            if local is None:
                continue
            if local.address_count == 0:
                log.warning("local geocoder has no address: run `qpv geocoder import`")
                continue
            log.info(
                "local geocoder: %d streets, %d addresses", local.street_count, local.address_count
            )
            geocoders[name] = local
        else:
            raise ValueError(f"unknown geocoder {name!r} in QPV_GEOCODERS (local, ban)")
    return geocoders
