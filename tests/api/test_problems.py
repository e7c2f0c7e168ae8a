"""The one table from domain errors to HTTP statuses."""

from __future__ import annotations

import inspect

import pytest

from app import errors
from app.api.problems import problem_type

DOMAIN_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.QpvError)
]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (errors.InvalidInput, (422, "Invalid input", "invalid-input")),
        (errors.NotFound, (404, "Not found", "not-found")),
        (errors.NoGeographyInForce, (422, "No QPV geography in force", "no-geography-in-force")),
        (errors.GeographyNotLoaded, (503, "Geography not loaded", "geography-not-loaded")),
        (errors.NotReady, (503, "Service not ready", "not-ready")),
        (errors.ImportRefused, (422, "Import refused", "import-refused")),
        (errors.UpstreamError, (502, "Upstream error", "upstream-error")),
        (errors.UnknownDepartement, (422, "Invalid input", "invalid-input")),
        (errors.InvalidGeometry, (422, "Invalid input", "invalid-input")),
        (errors.CorruptGrid, (500, "Internal error", "internal-error")),
    ],
)
def test_each_domain_error_has_one_status_title_and_type(
    error: type[errors.QpvError], expected: tuple[int, str, str]
) -> None:
    assert problem_type(error) == expected


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda cls: cls.__name__)
def test_domain_errors_carry_no_http_status(error: type[errors.QpvError]) -> None:
    assert not {"status", "title", "slug"} & set(vars(error))
    assert 400 <= problem_type(error)[0] < 600
