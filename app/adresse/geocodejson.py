"""Candidates and their QPV answers as GeocodeJSON, the FeatureCollection addok answers.

Each feature has addok's properties, in addok's order (``label``, ``score``,
``housenumber``, ``id``, ``name``, ``postcode``, ``citycode``, ``x``, ``y``, ``city``,
``district``, ``context``, ``type``, ``importance``, ``street``; ``distance`` on a reverse
search or with a point to prefer), properties without a value left out as addok leaves them,
then the QPV answer for the feature's position: ``qpv_status``, ``qpv_code``, ``qpv_name``
(the quartier holding it, null outside), ``qpv_distance_m``, ``qpv_geography``,
``qpv_dataset`` (the dataset's version) and ``qpv_reason``.
"""

from __future__ import annotations

from typing import Any

from app.addresses import AddressAnswer
from app.geocoding import adresse
from app.geocoding.base import Candidate
from app.spatial.territories import territory_of_point

ATTRIBUTION = "BAN"
LICENCE = "ETALAB-2.0"


def feature(
    candidate: Candidate,
    answer: AddressAnswer,
    importance: float | None = None,
    distance_m: float | None = None,
) -> dict[str, Any]:
    """One candidate as a GeoJSON Feature, its QPV answer in its properties."""
    x, y = _metric(candidate)
    props: dict[str, Any] = {
        "label": candidate.label,
        "score": candidate.score,
        "housenumber": candidate.housenumber,
        "id": candidate.id,
        "name": adresse.name(candidate),
        "postcode": candidate.postcode,
        "citycode": candidate.citycode,
        "x": x,
        "y": y,
        "city": candidate.city,
        "district": adresse.district(candidate.citycode),
        "context": adresse.context(candidate.citycode),
        "type": candidate.type.value,
        "importance": importance,
        "street": candidate.street,
        "distance": round(distance_m) if distance_m is not None else None,
    }
    props = {k: v for k, v in props.items() if v is not None and v != ""}
    props.update(qpv_properties(answer))
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [candidate.lon, candidate.lat]},
        "properties": props,
    }


def qpv_properties(answer: AddressAnswer) -> dict[str, Any]:
    """The QPV answer of a feature, as its ``qpv_*`` properties (the batch's columns)."""
    point = answer.point
    inside = point is not None and point.inside and point.qpv is not None
    distance = point.distance_m if point is not None else None
    return {
        "qpv_status": answer.status.value,
        "qpv_code": point.qpv.code if inside and point and point.qpv else None,
        "qpv_name": point.qpv.name if inside and point and point.qpv else None,
        "qpv_distance_m": round(distance, 1) if distance is not None else None,
        "qpv_geography": answer.geo.geography.value,
        "qpv_dataset": answer.geo.dataset.version,
        "qpv_reason": answer.reason,
    }


def collection(
    features: list[dict[str, Any]],
    limit: int,
    query: str | None = None,
    filters: dict[str, list[str]] | None = None,
    center: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The FeatureCollection around the features, with what addok echoes of the request."""
    out: dict[str, Any] = {
        "type": "FeatureCollection",
        "version": "draft",
        "features": features,
        "attribution": ATTRIBUTION,
        "licence": LICENCE,
    }
    if query:
        out["query"] = query
    if filters:
        out["filters"] = filters
    if center:
        out["center"] = list(center)
    out["limit"] = limit
    return out


def _metric(candidate: Candidate) -> tuple[float | None, float | None]:
    """API Adresse's ``x``/``y``: the position in its territory's metric CRS (Lambert-93 in
    the hexagone and Corsica), to the centimetre."""
    territory = territory_of_point(candidate.lon, candidate.lat)
    if territory is None:
        return None, None
    x, y = territory.to_metric().transform(candidate.lon, candidate.lat)
    return round(float(x), 2), round(float(y), 2)
