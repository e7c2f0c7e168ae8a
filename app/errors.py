"""Domain exceptions and their HTTP mapping; every error body is RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any


class QpvError(Exception):
    """Base of every error the service reports to its callers."""

    status: int = 500
    title: str = "Internal error"
    slug: str = "internal-error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(QpvError):
    """The request is well formed but its values cannot be answered."""

    status, title, slug = 422, "Invalid input", "invalid-input"


class NotFound(QpvError):
    """The named resource does not exist."""

    status, title, slug = 404, "Not found", "not-found"


class NoGeographyInForce(QpvError):
    """No QPV geography was in force at the requested date and place."""

    status, title, slug = 422, "No QPV geography in force", "no-geography-in-force"


class GeographyNotLoaded(QpvError):
    """The requested geography has no dataset imported."""

    status, title, slug = 503, "Geography not loaded", "geography-not-loaded"


class NotReady(QpvError):
    """The service has not finished loading its index."""

    status, title, slug = 503, "Service not ready", "not-ready"


class ImportRefused(QpvError):
    """A data file was refused by the import; the database is left unchanged."""

    status, title, slug = 422, "Import refused", "import-refused"


class UpstreamError(QpvError):
    """A dependency (geocoder, database) failed to answer."""

    status, title, slug = 502, "Upstream error", "upstream-error"


class DatabaseNotReady(QpvError):
    """The database is missing, unreachable or not migrated to the code's schema."""

    status, title, slug = 503, "Database not ready", "database-not-ready"
