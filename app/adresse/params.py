"""The query strings of ``/search/`` and ``/reverse/``, read as addok reads them.

Refusals are addok's: a 400 naming the parameter (``BadParameter``), a 413 for a query past
200 characters. Unlike addok, a parameter this interface does not know is refused too
(a misspelt ``postcode`` must not silently widen a search).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from app.codes import is_insee_code, is_postcode
from app.errors import BadParameter, TooLarge, echo
from app.geocoding.base import MatchType
from app.spatial.geography import Geography

MAX_QUERY_CHARS = 200  # addok's QUERY_MAX_LENGTH: past it, a 413
MAX_LIMIT = 100  # addok: "out of range (1..100)"
TYPES = ("housenumber", "street", "locality", "municipality")
SEARCH_PARAMETERS = (
    "q", "limit", "autocomplete", "lat", "lon", "type", "postcode", "citycode",
    "geography", "as_of",
)  # fmt: skip
REVERSE_PARAMETERS = ("lat", "lon", "type", "limit", "geography", "as_of")
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})

Query = Mapping[str, Sequence[str]]  # name -> every value given


@dataclass(frozen=True, slots=True)
class When:
    """The QPV geography asked: named, or in force at a date (None: today's)."""

    geography: Geography | None = None
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class SearchParams:
    """``GET /search/``."""

    q: str
    limit: int = 5
    autocomplete: bool = True
    near: tuple[float, float] | None = None  # (lon, lat): a point to prefer results near
    type: MatchType | None = None
    postcode: str | None = None
    citycode: str | None = None
    when: When = When()

    def filters(self) -> dict[str, list[str]]:
        """The filters given, as addok echoes them."""
        given = {"type": self.type, "postcode": self.postcode, "citycode": self.citycode}
        return {k: [str(v)] for k, v in given.items() if v is not None}


@dataclass(frozen=True, slots=True)
class ReverseParams:
    """``GET /reverse/``."""

    lon: float
    lat: float
    limit: int = 1
    type: MatchType | None = None
    when: When = When()


def bad(name: str, message: str, title: str = "Invalid parameter") -> BadParameter:
    """addok's refusal of a parameter, as a problem that also carries addok's members."""
    if title == "Missing parameter":
        description = f'The "{name}" parameter is required.'
    else:
        description = f'The "{name}" parameter is invalid. {message}'
    return BadParameter(
        f"{name}: {message}",
        description=description,
        message=description,
        code=400,
        errors=[{"parameter": name, "message": message}],
    )


def search_params(query: Query) -> SearchParams:
    """The parameters of a search; BadParameter (400) or TooLarge (413) as addok answers."""
    _known(query, SEARCH_PARAMETERS)
    q = (_one(query, "q") or "").strip()
    if not q:
        raise bad("q", "give the text to search", "Missing parameter")
    if len(q) > MAX_QUERY_CHARS:
        raise TooLarge(
            f"Query too long, {len(q)} chars, limit is {MAX_QUERY_CHARS}", limit=MAX_QUERY_CHARS
        )
    postcode, citycode = _one(query, "postcode"), _one(query, "citycode")
    if postcode is not None and not is_postcode(postcode):
        raise bad("postcode", "must be a postcode of five digits")
    if citycode is not None and not is_insee_code(citycode.upper()):
        raise bad("citycode", "must be an INSEE commune code such as 93010")
    return SearchParams(
        q=q,
        limit=_limit(query, 5),
        autocomplete=_flag(query, "autocomplete", default=True),
        near=_point(query, required=False),
        type=_type(query),
        postcode=postcode,
        citycode=citycode.upper() if citycode else None,
        when=_when(query),
    )


def reverse_params(query: Query) -> ReverseParams:
    """The parameters of a reverse search; BadParameter (400) as addok answers."""
    _known(query, REVERSE_PARAMETERS)
    point = _point(query, required=True)
    assert point is not None
    return ReverseParams(point[0], point[1], _limit(query, 1), _type(query), _when(query))


def _known(query: Query, accepted: Sequence[str]) -> None:
    unknown = [name for name in query if name not in accepted]
    if unknown:
        raise bad(unknown[0], f"unknown parameter; accepted: {', '.join(accepted)}")


def _one(query: Query, name: str) -> str | None:
    values = [v for v in query.get(name, ()) if v.strip()]
    if len(values) > 1:
        raise bad(name, "give this parameter once")
    return values[0].strip() if values else None


def _limit(query: Query, default: int) -> int:
    raw = _one(query, "limit")
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise bad("limit", "The value must be an integer.")
    value = int(raw)
    if value == 0:
        return default  # addok: "limit=0" is the default
    if value > MAX_LIMIT:
        raise bad("limit", f"out of range (1..{MAX_LIMIT})")
    return value


def _flag(query: Query, name: str, default: bool) -> bool:
    raw = _one(query, name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise bad(name, "must be 1 or 0")


def _point(query: Query, required: bool) -> tuple[float, float] | None:
    lat, lon = _coordinate(query, "lat", 90), _coordinate(query, "lon", 180)
    if lat is None or lon is None:
        missing = "lat" if lat is None else "lon"
        if required or (lat is None) != (lon is None):
            raise bad(missing, "give lat and lon together", "Missing parameter")
        return None
    return lon, lat


def _coordinate(query: Query, name: str, bound: float) -> float | None:
    raw = _one(query, name)
    if raw is None:
        return None
    try:
        value = float(raw) if raw.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise bad(name, "invalid value")
    if abs(value) > bound:
        raise bad(name, "out of range")
    return value


def _type(query: Query) -> MatchType | None:
    raw = _one(query, "type")
    if raw is None:
        return None
    if raw not in TYPES:
        raise bad("type", f"must be one of {', '.join(TYPES)}, not {echo(raw)}")
    return MatchType(raw)


def _when(query: Query) -> When:
    geography, as_of = _one(query, "geography"), _one(query, "as_of")
    if geography is not None and as_of is not None:
        raise bad("as_of", "give either geography or as_of, not both")
    try:
        return When(
            Geography(geography) if geography is not None else None,
            date.fromisoformat(as_of) if as_of is not None else None,
        )
    except ValueError:
        name = "geography" if geography is not None else "as_of"
        message = "must be 2015 or 2024" if name == "geography" else "must be YYYY-MM-DD"
        raise bad(name, message) from None
