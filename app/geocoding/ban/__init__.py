"""The ``ban`` provider: any BAN-compatible HTTP API (API Adresse, IGN Géoplateforme, addok).

One module per role:

- ``client``: ``BanGeocoder``, the Geocoder protocol (``/search``, bulk, fallbacks);
- ``query``: a query reduced to what ``/search`` takes;
- ``parsing``: GeoJSON features and CSV rows as candidates;
- ``bulk``: the ``/search/csv`` request body and answer;
- ``transport``: one HTTP exchange under the concurrency cap, its failure classified;
- ``ratelimit``: the shared rate cap (aiolimiter), paused by ``Retry-After``;
- ``retry``: retries with backoff (tenacity), honouring ``Retry-After``, within a deadline;
- ``breaker``: the circuit breaker;
- log redaction of httpx's request lines lives in ``app.logs`` (installed by each client);
- ``errors``: the classified failure of one request.

Privacy: addresses never reach logs or ``error_detail``; only status codes, error kinds,
counts and exception class names do (exception messages may embed the request URL).
"""

from app.geocoding.ban.client import BanGeocoder
from app.geocoding.ban.parsing import parse_features
from app.geocoding.ban.retry import parse_retry_after

__all__ = ["BanGeocoder", "parse_features", "parse_retry_after"]
