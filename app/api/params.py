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

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from app.geocoding.base import AddressQuery, MatchType
from app.geocoding.hints import DEFAULT_LIMIT, MAX_LIMIT, SearchHints
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
            errors = [_named(model, {**e, "loc": ("query", *e["loc"])}) for e in exc.errors()]
            raise RequestValidationError(errors) from None

    return dependency


def openapi_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``parameters`` of a query model, for a route's ``openapi_extra``; each
    alias of a field (``code_postal`` for ``postcode``) is listed as a parameter of its own."""
    schema = _inline_refs(model.model_json_schema())
    parameters = []
    for name, prop in schema["properties"].items():
        description = prop.pop("description", "")
        required = name in schema.get("required", ())
        parameters.append(_parameter(name, required, description, prop))
        for alias in _aliases(model).get(name, ()):
            parameters.append(_parameter(alias, False, f"alias of `{name}`", prop))
    return {"parameters": parameters}


def _parameter(name: str, required: bool, description: str, schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def _aliases(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Field name -> its other accepted names (from ``AliasChoices``)."""
    out: dict[str, tuple[str, ...]] = {}
    for name, info in model.model_fields.items():
        if isinstance(info.validation_alias, AliasChoices):
            choices = [c for c in info.validation_alias.choices if isinstance(c, str)]
            out[name] = tuple(c for c in choices if c != name)
    return out


def _named(model: type[BaseModel], error: dict[str, Any]) -> dict[str, Any]:
    """An unknown-parameter error that says what is accepted, or that an alias repeats."""
    if error.get("type") != "extra_forbidden":
        return error
    key = str(error["loc"][-1])
    field = next((f for f, aliases in _aliases(model).items() if key in aliases), None)
    if field is not None:
        return {**error, "msg": f"alias of {field}: give one of the two, not both"}
    accepted = sorted(_accepted_names(model))
    return {**error, "msg": f"unknown query parameter; accepted: {', '.join(accepted)}"}


def _accepted_names(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    for aliases in _aliases(model).values():
        names.update(aliases)
    return names


# ----------------------------------------------------------------- unknown parameters

# Route (by id, with the route itself to rule out a reused id) -> the names it accepts.
_ACCEPTED: dict[int, tuple[APIRoute, frozenset[str]]] = {}


async def reject_unknown_query(request: Request) -> None:
    """A router dependency: a 422 naming every query parameter the route does not take."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    accepted = _accepted(route)
    unknown = [k for k in dict.fromkeys(request.query_params.keys()) if k not in accepted]
    if unknown:
        listed = ", ".join(sorted(accepted)) or "none"
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", key),
                    "msg": f"unknown query parameter; accepted: {listed}",
                    "input": None,
                }
                for key in unknown
            ]
        )


# For ``include_router(dependencies=...)``: every route of the router refuses unknown names.
STRICT_QUERY = [Depends(reject_unknown_query)]


def _accepted(route: APIRoute) -> frozenset[str]:
    """Declared query parameters plus those documented through ``openapi_extra``."""
    cached = _ACCEPTED.get(id(route))
    if cached is not None and cached[0] is route:
        return cached[1]
    names = set(_query_names(route.dependant))
    extra = (route.openapi_extra or {}).get("parameters", [])
    names.update(p["name"] for p in extra if p.get("in") == "query")
    accepted = frozenset(names)
    _ACCEPTED[id(route)] = (route, accepted)
    return accepted


def _query_names(dependant: Dependant) -> list[str]:
    """Query parameter names of a dependant and of its sub-dependencies."""
    names = [p.alias for p in dependant.query_params]
    for sub in dependant.dependencies:
        names.extend(_query_names(sub))
    return names


# ----------------------------------------------------------------- GET /v1/address

_TEXT_MAX = 250


def _text(description: str, *names: str) -> Any:
    """A text parameter (at most 250 characters) under its BAN name and French aliases."""
    alias = AliasChoices(*names) if len(names) > 1 else None
    return Field(None, max_length=_TEXT_MAX, validation_alias=alias, description=description)


class AddressParams(BaseModel):
    """Parameters of ``GET /v1/address``: BAN's names, the French ones as aliases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    q: str | None = _text("free-text address, on one line or several (AFNOR layout)")
    housenumber: str | None = _text(
        "house number, with its index (12 bis)", "housenumber", "numero"
    )
    street: str | None = _text("street name", "street", "voie")
    postcode: str | None = _text(
        "postcode (a CEDEX code with a commune saying CEDEX)", "postcode", "code_postal"
    )
    city: str | None = _text("commune name", "city", "commune")
    citycode: str | None = _text("INSEE commune code", "citycode", "code_insee")
    type: MatchType | None = Field(
        None, description="keep only candidates of this type (BAN `type`)"
    )
    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="how many candidates to consider"
    )
    lat: float | None = Field(
        None, ge=-90, le=90, allow_inf_nan=False, description="prefer candidates near (WGS84)"
    )
    lon: float | None = Field(
        None, ge=-180, le=180, allow_inf_nan=False, description="prefer candidates near (WGS84)"
    )
    provider: str | None = Field(None, description="geocoder; default: the first configured")
    geography: Geography | None = Field(
        None, description="QPV geography; default: the one in force today at the place"
    )
    as_of: date | None = Field(
        None, description="answer in the geography in force on this date at the place"
    )

    _decimals = field_validator("lat", "lon", mode="before")(
        lambda v: documented_form("decimal", v)
    )
    _integers = field_validator("limit", mode="before")(lambda v: documented_form("integer", v))
    _dates = field_validator("as_of", mode="before")(lambda v: documented_form("date", v))

    @model_validator(mode="after")
    def _both_coordinates(self) -> AddressParams:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give lat and lon together (a point to prefer candidates near)")
        return self

    def query(self) -> AddressQuery:
        """The address itself."""
        return AddressQuery(
            self.q, self.housenumber, self.street, self.postcode, self.city, self.citycode
        )

    def hints(self) -> SearchHints:
        """BAN's search options."""
        near = (self.lon, self.lat) if self.lon is not None and self.lat is not None else None
        return SearchHints(self.limit, self.type, near)


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
