"""BAN answers as candidates: the GeoJSON of ``/search`` and the rows of ``/search/csv``.

Both raise ``ValueError`` on a shape no BAN server sends; the caller turns it into a
``bad_response`` for that query.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from app.geocoding.base import Candidate, GeocodeErrorKind, GeocodeResult, MatchType


def _float(value: Any) -> float | None:
    """A finite float from a JSON or CSV value, else ``None``."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _str(value: Any) -> str | None:
    """A non-empty string from a JSON or CSV value, else ``None``."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def _match_type(value: Any) -> MatchType | None:
    try:
        return MatchType(str(value))
    except ValueError:
        return None


def _candidate(
    *,
    label: Any,
    score: Any,
    type_: MatchType,
    lon: Any,
    lat: Any,
    name: Any,
    street: Any,
    housenumber: Any,
    postcode: Any,
    citycode: Any,
    city: Any,
    id_: Any,
) -> Candidate:
    """Build and validate one candidate; raise ``ValueError`` when a required field is bad."""
    x, y, s = _float(lon), _float(lat), _float(score)
    if x is None or y is None or not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        raise ValueError("bad coordinates")
    if s is None:
        raise ValueError("bad score")
    name_s = _str(name)
    label_s = _str(label) or name_s
    if label_s is None:
        raise ValueError("no label")
    # addok only fills ``street`` on house numbers; on a street, the name is the street.
    street_s = _str(street) or (name_s if type_ is MatchType.STREET else None)
    return Candidate(
        label=label_s,
        score=min(1.0, max(0.0, s)),
        type=type_,
        lon=x,
        lat=y,
        citycode=_str(citycode),
        postcode=_str(postcode),
        city=_str(city),
        street=street_s,
        housenumber=_str(housenumber) if type_ is MatchType.HOUSENUMBER else None,
        id=_str(id_),
    )


def parse_features(payload: Any) -> list[Candidate]:
    """Candidates from a BAN GeoJSON FeatureCollection; ``ValueError`` on a wrong shape."""
    if not isinstance(payload, Mapping):
        raise ValueError("not a JSON object")
    features = payload.get("features")
    if not isinstance(features, list):
        raise ValueError("no features list")
    candidates = [c for c in map(_feature_candidate, features) if c is not None]
    # Servers already rank by score; a stable sort keeps that order on ties.
    candidates.sort(key=lambda c: c.score, reverse=True)
    return candidates


def _feature_candidate(feature: Any) -> Candidate | None:
    """One feature as a candidate; ``None`` for a type this service does not know."""
    if not isinstance(feature, Mapping):
        raise ValueError("feature is not an object")
    props = feature.get("properties")
    geometry = feature.get("geometry")
    if not isinstance(props, Mapping) or not isinstance(geometry, Mapping):
        raise ValueError("feature without properties or geometry")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        raise ValueError("feature without point coordinates")
    type_ = _match_type(props.get("type"))
    if type_ is None:
        # A future BAN addition, or a POI index on Géoplateforme: skip it rather than fail
        # the whole answer.
        return None
    name = props.get("name")
    street = props.get("street")
    if type_ is MatchType.HOUSENUMBER and not _str(street):
        # Some servers omit ``street`` on house numbers; ``name`` is then "12 Rue X".
        hn = _str(props.get("housenumber")) or ""
        name_s = _str(name) or ""
        street = name_s[len(hn) :].strip() if hn and name_s.startswith(hn) else None
    return _candidate(
        label=props.get("label"),
        score=props.get("score"),
        type_=type_,
        lon=coords[0],
        lat=coords[1],
        name=name,
        street=street,
        housenumber=props.get("housenumber"),
        postcode=props.get("postcode"),
        citycode=props.get("citycode"),
        city=props.get("city"),
        id_=props.get("id"),
    )


def csv_row_result(row: Mapping[str, str | None]) -> GeocodeResult:
    """One row of a /search/csv answer as a result (empty when BAN found nothing)."""
    status = (row.get("result_status") or "").strip()
    if status == "error":
        return GeocodeResult(error=GeocodeErrorKind.UPSTREAM, error_detail="row failed upstream")
    type_raw = (row.get("result_type") or "").strip()
    if not type_raw:
        return GeocodeResult()
    type_ = _match_type(type_raw)
    if type_ is None:
        return GeocodeResult()
    candidate = _candidate(
        label=row.get("result_label"),
        score=row.get("result_score"),
        type_=type_,
        lon=row.get("longitude"),
        lat=row.get("latitude"),
        name=row.get("result_name"),
        street=row.get("result_street")
        or (row.get("result_name") if type_ is MatchType.HOUSENUMBER else None),
        housenumber=row.get("result_housenumber"),
        postcode=row.get("result_postcode"),
        citycode=row.get("result_citycode"),
        city=row.get("result_city"),
        id_=row.get("result_id"),
    )
    return GeocodeResult(candidates=[candidate])
