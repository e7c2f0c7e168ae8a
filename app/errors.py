"""Domain exceptions: each says what went wrong, none knows about HTTP.

The API maps them to statuses in one table (app/api/problems.py); the CLI prints their detail.
"""

from __future__ import annotations

from typing import Any


class QpvError(Exception):
    """Base of every error the service reports to its callers."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(QpvError):
    """The request is well formed but its values cannot be answered."""


class UnknownDepartement(InvalidInput):
    """A département code that names no territory with QPV."""


class InvalidGeometry(InvalidInput):
    """Geometries or coordinate arrays the spatial core cannot index or query."""


class NotFound(QpvError):
    """The named resource does not exist."""


class NotFinished(QpvError):
    """The resource exists but is not ready yet (a job still running)."""


class NoGeographyInForce(QpvError):
    """No QPV geography was in force at the requested date and place."""


class GeographyNotLoaded(QpvError):
    """The requested geography has no dataset imported."""


class NotReady(QpvError):
    """The service has not finished loading its index."""


class ImportRefused(QpvError):
    """A data file was refused by the import; the database is left unchanged."""


class UpstreamError(QpvError):
    """A dependency (geocoder, database) failed to answer."""


class StorageUnavailable(QpvError):
    """The database cannot be read right now (stopped server, deleted or corrupt file)."""


class CorruptGrid(QpvError):
    """A cached membership grid does not load (other format, other polygons)."""


class DatabaseNotReady(NotReady):
    """The database is missing, unreachable or not migrated to the code's schema."""


class UnexpectedValues(InvalidInput):
    """A column holds values the analysis cannot interpret; ``values`` names them."""


class MissingColumns(InvalidInput):
    """The input lacks columns the analysis needs; ``columns`` names them."""


class TooLarge(QpvError):
    """An input (a batch, an upload) is past a size or row limit."""


# Longest piece of caller input quoted back in an error: enough to recognise it, never a
# megabyte echoed (a 10 kB parameter would come back whole in the problem's detail).
ECHO_CHARS = 200


def echo(value: object, limit: int = ECHO_CHARS) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class BadParameter(InvalidInput):
    """A parameter of API Adresse's interface that addok would refuse (a 400 there too)."""
