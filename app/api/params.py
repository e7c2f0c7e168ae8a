"""Query parameters validated as one pydantic model, for hot endpoints.

FastAPI validates each declared query parameter separately, which costs more than a whole
point lookup; validating the query string as one model is several times cheaper. The model
still documents the parameters in OpenAPI (``openapi_parameters``) and its errors still reach
callers as the usual 422 problem naming each bad parameter.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from app.spatial.geography import Geography
from app.spatial.territories import METRIC_EPSGS

M = TypeVar("M", bound=BaseModel)

# The documented forms only, in ASCII digits: pydantic would also take "2154.0" for an int,
# "1_0" for a float and a Unix time for a date, and Python's int()/float() take Arabic-Indic
# digits. A caller sending those has a bug worth telling, not guessing around.
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$", re.ASCII)
_INTEGER = re.compile(r"^\d{1,9}$", re.ASCII)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


_FORMS = {
    "decimal": (_DECIMAL, "a decimal number such as 48.88699"),
    "integer": (_INTEGER, "an integer in ASCII digits, such as 2154"),
    "date": (_ISO_DATE, "a date as YYYY-MM-DD"),
}


def documented_form(form: str, value: object) -> object:
    """``value`` unchanged, or ValueError when a string is not in the documented ``form``."""
    pattern, what = _FORMS[form]
    if isinstance(value, str) and not pattern.match(value):
        raise ValueError(f"must be {what}")
    return value


# For parameters declared with FastAPI's Query (the JSON schema keeps its own constraints).
IsoDate = Annotated[date, BeforeValidator(lambda v: documented_form("date", v))]


class PointQuery(BaseModel):
    """Parameters of ``GET /v1/point``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False, description="WGS84")
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False, description="WGS84")
    x: float | None = Field(None, allow_inf_nan=False, description="easting in `crs`")
    y: float | None = Field(None, allow_inf_nan=False, description="northing in `crs`")
    crs: int = Field(2154, description=f"EPSG code of x/y, one of {sorted(METRIC_EPSGS)}")
    geography: Geography | None = Field(
        None, description="QPV geography; default: the one in force today at the place"
    )
    as_of: date | None = Field(
        None, description="answer in the geography in force on this date at the place"
    )

    _decimals = field_validator("lat", "lon", "x", "y", mode="before")(
        lambda v: documented_form("decimal", v)
    )
    _integers = field_validator("crs", mode="before")(lambda v: documented_form("integer", v))
    _dates = field_validator("as_of", mode="before")(lambda v: documented_form("date", v))


def query_model(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency validating the whole query string as ``model``."""

    async def dependency(request: Request) -> M:
        try:
            return model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
            raise RequestValidationError(errors) from None

    return dependency


def openapi_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``parameters`` of a query model, for a route's ``openapi_extra``."""
    schema = _inline_refs(model.model_json_schema())
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", ()),
                "description": prop.pop("description", ""),
                "schema": prop,
            }
            for name, prop in schema["properties"].items()
        ]
    }


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its ``#/$defs/...`` references replaced by their definitions."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    result: dict[str, Any] = inline(schema)
    return result
