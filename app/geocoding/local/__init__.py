"""The ``local`` offline geocoder: BAN streets and address points held in memory.

- ``tables``: the frozen street and address tables and ``build_tables``, which makes them
  from plain rows (the database adapter's, or a test's);
- ``index``: the lookups built over the street table;
- ``fuzzy``: fuzzy street matching;
- ``geocoder``: ``LocalGeocoder``, the matching itself.
"""

from app.geocoding.local.geocoder import LocalGeocoder
from app.geocoding.local.tables import (
    AddressRecord,
    AddressTable,
    StreetRecord,
    StreetTable,
    build_tables,
)

__all__ = [
    "AddressRecord",
    "AddressTable",
    "LocalGeocoder",
    "StreetRecord",
    "StreetTable",
    "build_tables",
]
