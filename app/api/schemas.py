"""Response bodies of the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

import orjson
from fastapi import Response
from pydantic import AliasChoices, BaseModel, Field

from app.addresses import AddressAnswer, StreetSpread
from app.batch.results import BatchStatus
from app.geocoding.base import Candidate
from app.jobs.records import JobRecord, JobState
from app.keys import ApiKey
from app.spatial.index import PointAnswer
from app.spatial.records import DatasetInfo, QpvInfo

# What each answer status means: in the OpenAPI schema as the field's description (read by
# /docs and /redoc) and as ``x-enum-descriptions`` (one entry per value, for tools).
STATUS_MEANINGS = {
    "in": "inside a QPV polygon (a point on the boundary counts as inside)",
    "out": "outside every QPV; `nearest_qpv` and `distance_m` say which is nearest and how far",
    "near_boundary": "within the boundary tolerance (setting, metres) of a QPV boundary; "
    "`inside` still tells the side it fell on",
    "commune_without_qpv": "the address's commune has no QPV in that geography: out for "
    "certain, even when only the commune was found",
    "street_partial": "only the street was found, and its address points fall partly in a QPV; "
    "`street` gives the counts and codes",
    "ambiguous": "the best candidates score alike, lie apart and get different QPV answers; "
    "`alternatives` lists them",
    "not_found": "no geocoding candidate reached the minimum score, or only a commune that has "
    "QPV was found",
}


def status_field(*values: str) -> Any:
    """The ``status`` field: its values, each with its meaning, in the OpenAPI schema."""
    lines = "\n".join(f"- `{v}`: {STATUS_MEANINGS[v]}" for v in values)
    return Field(
        description=f"One status per answer, with a `reason`:\n\n{lines}",
        json_schema_extra={"x-enum-descriptions": {v: STATUS_MEANINGS[v] for v in values}},
    )


def json_response(model: BaseModel) -> Response:
    """A JSON response of a model built by the service (no second validation pass)."""
    return Response(model.model_dump_json(), media_type="application/json")


class DatasetRef(BaseModel):
    """The dataset an answer was computed from."""

    id: int
    geography: str
    version: str = Field(description="first 12 hex digits of the source file's sha256")
    source_name: str
    imported_at: datetime

    @classmethod
    @cache  # a few immutable datasets per process
    def of(cls, info: DatasetInfo) -> DatasetRef:
        """From the core's dataset info (built once per dataset: answers share it)."""
        return cls(**_provenance(info))


def _provenance(info: DatasetInfo) -> dict[str, Any]:
    """The one mapping of a dataset record to the fields every dataset schema shares."""
    return {
        "id": info.id,
        "geography": str(info.geography),
        "version": info.version,
        "source_name": info.source_name,
        "imported_at": info.imported_at,
    }


class Quartier(BaseModel):
    """A quartier prioritaire."""

    code: str = Field(examples=["QN07511M"])
    name: str
    departement: str
    territory: str
    communes: list[str] = Field(
        description="commune names: from the source, else from the administrative divisions"
    )
    insee_codes: list[str] = Field(
        description="INSEE commune codes from the source, then the current code of any "
        "commune merged since (administrative divisions)"
    )

    @classmethod
    @cache  # a few thousand immutable quartiers per process
    def of(cls, info: QpvInfo) -> Quartier:
        """From the core's quartier info (built once per quartier: answers share it)."""
        return cls(
            code=info.code,
            name=info.name,
            departement=info.departement,
            territory=info.territory,
            communes=list(info.communes),
            insee_codes=list(info.insee_codes),
        )


class Coordinates(BaseModel):
    """WGS84 coordinates actually looked up."""

    lon: float
    lat: float


class PointResult(BaseModel):
    """Whether a point lies in a QPV, and how sure the answer is."""

    status: Literal["in", "out", "near_boundary"] = status_field("in", "out", "near_boundary")
    reason: str
    inside: bool = Field(description="the side the point fell on, even when near_boundary")
    qpv: Quartier | None = Field(description="the quartier holding the point")
    also_in: list[Quartier] = Field(description="other quartiers holding it (rare overlaps)")
    nearest_qpv: Quartier | None = Field(description="the quartier whose boundary is nearest")
    distance_m: float | None = Field(description="metres to the nearest QPV boundary")
    signed_distance_m: float | None = Field(description="negative inside, positive outside")
    territory: str | None
    geography: str
    dataset: DatasetRef
    point: Coordinates

    @classmethod
    def of(cls, answer: PointAnswer, lon: float, lat: float) -> PointResult:
        """From the core's answer (typed by construction: built without re-validation)."""
        return cls.model_construct(
            status=answer.status.value,
            reason=answer.reason,
            inside=answer.inside,
            qpv=Quartier.of(answer.qpv) if answer.qpv else None,
            also_in=[Quartier.of(q) for q in answer.also_in],
            nearest_qpv=Quartier.of(answer.nearest) if answer.nearest else None,
            distance_m=_round(answer.distance_m),
            signed_distance_m=_round(answer.signed_distance_m),
            territory=answer.territory.key if answer.territory else None,
            geography=str(answer.geography),
            dataset=DatasetRef.of(answer.dataset),
            point=Coordinates.model_construct(lon=lon, lat=lat),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class QpvPage(BaseModel):
    """One page of quartiers."""

    geography: str
    dataset: DatasetRef
    total: int
    limit: int
    offset: int
    items: list[Quartier]


class QpvFeature(BaseModel):
    """A quartier as a GeoJSON Feature (WGS84)."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: dict[str, Any]


class DatasetOut(DatasetRef):
    """An imported dataset and its provenance."""

    source_url: str | None
    sha256: str
    feature_count: int
    repaired_count: int
    source_crs: str | None
    in_use: bool = Field(False, description="whether the index answers from this dataset")
    state: str = Field(
        "current",
        description="`current`: the dataset of its geography in the database (the service "
        "answers from it after a restart); `previous`: kept, `qpv data use ID` brings it back",
    )
    member: str = Field("", description="the file read inside a zip archive, if any")

    @classmethod
    def stored(cls, info: DatasetInfo, in_use: bool) -> DatasetOut:
        """From a stored dataset's record."""
        return cls(
            **_provenance(info),
            source_url=info.source_url,
            sha256=info.sha256,
            feature_count=info.feature_count,
            repaired_count=info.repaired_count,
            source_crs=info.source_crs,
            in_use=in_use,
            state=info.state,
            member=info.member,
        )


class Health(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok", "degraded"] = Field(
        description="`ok`: every part answers; `degraded`: the index answers but the database "
        "or a geocoder does not (point lookups still work), or this process answers from "
        "other data than the database's current one past the reload period"
    )
    checks: dict[str, str] = Field(
        default_factory=dict,
        description="`index`, `database` and `geocoder_NAME`: `ok`, `unreachable`, `down`; "
        "`qpvYYYY`: the dataset version this process answers from for that geography; "
        "`generation` and `process`: its data generation and process id; `data`: `ok` (the "
        "database's current data), `reloading` (within QPV_RELOAD_POLL_S and its load time "
        "of a change), `behind` (past it: then `database_generation` and `database_qpvYYYY` "
        "say what the database holds) or `unknown`",
    )


class Note(BaseModel):
    """One thing the geocoder matched differently from the query."""

    kind: str
    detail: str


class Geocoding(BaseModel):
    """The geocoding candidate an answer rests on."""

    provider: str
    label: str
    score: float
    type: Literal["housenumber", "interpolated", "street", "locality", "municipality"] = Field(
        description="`interpolated`: a house number missing from the BAN, placed between its "
        "neighbours of the same parity on the street (see `notes`)"
    )
    lon: float
    lat: float
    citycode: str | None
    postcode: str | None
    city: str | None
    street: str | None
    housenumber: str | None
    notes: list[Note] = Field(
        default_factory=list,
        description="what was matched differently from what was asked: `commune_differs` "
        "(found outside the postcode, citycode or commune given), `index_differs` (bis/ter "
        "not found), `number_interpolated`, `number_missing`, `several_communes` (no commune "
        "given and the same address in several)",
    )

    @classmethod
    def of(cls, candidate: Candidate, provider: str) -> Geocoding:
        """From a provider's candidate."""
        return cls(
            provider=provider,
            label=candidate.label,
            score=round(candidate.score, 4),
            type=candidate.type.value,
            lon=candidate.lon,
            lat=candidate.lat,
            citycode=candidate.citycode,
            postcode=candidate.postcode,
            city=candidate.city,
            street=candidate.street,
            housenumber=candidate.housenumber,
            notes=[Note(kind=n.kind.value, detail=n.detail) for n in candidate.notes],
        )


class Street(BaseModel):
    """How the BAN address points of a street-level match fall with respect to QPV."""

    address_points: int
    in_qpv: int
    share_in_qpv: float
    qpv_codes: list[str]

    @classmethod
    def of(cls, spread: StreetSpread) -> Street:
        """From the resolver's street spread."""
        return cls(
            address_points=spread.address_points,
            in_qpv=spread.in_qpv,
            share_in_qpv=round(spread.in_qpv / spread.address_points, 4),
            qpv_codes=list(spread.codes),
        )


class Alternative(BaseModel):
    """Another candidate, as likely as the best one, with a different QPV answer."""

    geocoding: Geocoding
    point: PointResult


class AddressResult(BaseModel):
    """Whether an address is in a QPV, and how sure the answer is."""

    status: Literal[
        "in",
        "out",
        "near_boundary",
        "commune_without_qpv",
        "street_partial",
        "ambiguous",
        "not_found",
    ] = status_field(*STATUS_MEANINGS)
    reason: str
    qpv: Quartier | None = Field(description="the quartier holding the address, if any")
    geocoding: Geocoding | None
    point: PointResult | None = Field(description="the QPV answer at the geocoded position")
    street: Street | None = Field(description="for street-level matches")
    alternatives: list[Alternative]
    geography: str
    dataset: DatasetRef
    set_aside: list[str] = Field(
        default_factory=list,
        description="parts of the input recognised as extra lines (recipient, flat, floor, "
        "building, residence, lieu-dit, BP/CS, CEDEX) and left out of the search",
    )

    @classmethod
    def of(cls, answer: AddressAnswer) -> AddressResult:
        """From the resolver's answer."""
        best, point, street = answer.candidate, answer.point, answer.street
        holds = answer.status.value in ("in", "near_boundary") and point is not None
        return cls(
            status=answer.status.value,
            reason=answer.reason,
            qpv=Quartier.of(point.qpv) if holds and point and point.qpv else None,
            geocoding=Geocoding.of(best, answer.provider) if best else None,
            point=PointResult.of(point, best.lon, best.lat) if point and best else None,
            street=Street.of(street) if street else None,
            alternatives=[
                Alternative(
                    geocoding=Geocoding.of(c, answer.provider),
                    point=PointResult.of(p, c.lon, c.lat),
                )
                for c, p in answer.alternatives
            ],
            geography=str(answer.geo.geography),
            dataset=DatasetRef.of(answer.geo.dataset),
            set_aside=list(answer.set_aside),
        )


def _item_text(name: str, alias: str) -> Any:
    return Field(
        None, max_length=250, validation_alias=AliasChoices(name, alias), description=f"or {alias}"
    )


class BatchItem(BaseModel):
    """One item of a JSON batch: a point (lat/lon or Lambert-93 x/y) and/or an address."""

    model_config = {"extra": "forbid"}

    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    x: float | None = Field(None, description="Lambert-93 (EPSG:2154), metres")
    y: float | None = None
    q: str | None = Field(None, max_length=250, description="free-text address")
    # The French names, and BAN's as aliases (as in GET /v1/address).
    numero: str | None = _item_text("numero", "housenumber")
    voie: str | None = _item_text("voie", "street")
    code_postal: str | None = _item_text("code_postal", "postcode")
    commune: str | None = _item_text("commune", "city")
    citycode: str | None = _item_text("citycode", "code_insee")


class BatchQpv(BaseModel):
    """The quartier an item falls in."""

    code: str
    name: str


class BatchGeocoding(BaseModel):
    """The geocoding candidate an item's answer rests on."""

    label: str | None
    score: float | None
    type: str | None
    lat: float | None
    lon: float | None
    citycode: str | None
    postcode: str | None


class BatchResult(BaseModel):
    """The answer for one item, at the item's position."""

    index: int
    status: BatchStatus
    reason: str | None
    qpv: BatchQpv | None
    distance_m: float | None
    geography: str | None
    geocoding: BatchGeocoding | None


class BatchAnswer(BaseModel):
    """Answers in the order of the items, and how many of each status."""

    results: list[BatchResult]
    counts: dict[str, int]


def batch_response(answers: list[dict[str, Any]]) -> Response:
    """A BatchAnswer body from the pipeline's plain answers (well formed: no re-validation)."""
    counts: dict[str, int] = {}
    for a in answers:
        counts[a["status"]] = counts.get(a["status"], 0) + 1
    body = orjson.dumps({"results": answers, "counts": counts})
    return Response(body, media_type="application/json")


class JobOut(BaseModel):
    """A background job: its state, progress and, once done, where its result is."""

    id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime = Field(description="the job and its files are deleted then")
    rows_total: int | None = Field(description="data rows of the input, once it is split")
    rows_done: int
    counts: dict[str, int] = Field(description="rows per qpv_status, over finished chunks")
    eta_s: float | None = Field(description="seconds left at the rate seen so far")
    error: str | None
    result: str | None = Field(description="URL of the result file once done")
    data_generation: int | None = Field(
        description="the data generation that tags the whole job (as in POST /v1/admin/reload): "
        "the one in force at submission, fixed by its first tagged chunk"
    )

    @classmethod
    def of(cls, record: JobRecord, now: float) -> JobOut:
        """From the job's record."""

        def when(t: float | None) -> datetime | None:
            return datetime.fromtimestamp(t, UTC) if t is not None else None

        return cls(
            id=record.id,
            state=record.state.value,
            created_at=datetime.fromtimestamp(record.created_at, UTC),
            started_at=when(record.started_at),
            finished_at=when(record.finished_at),
            expires_at=datetime.fromtimestamp(record.expires_at, UTC),
            rows_total=record.rows_total,
            rows_done=record.rows_done,
            counts=record.counts,
            eta_s=record.eta_s(now),
            error=record.error,
            result=f"/v1/jobs/{record.id}/result" if record.state is JobState.DONE else None,
            data_generation=record.generation,
        )


class KeyIn(BaseModel):
    """A key to create."""

    name: str = Field(min_length=1, max_length=100, description="who or what uses the key")
    scopes: list[Literal["lookup", "batch", "admin"]] = Field(min_length=1)
    rate_per_min: int | None = Field(
        None, ge=0, le=10**9, strict=True, description="instead of the scope's limit"
    )


class KeyOut(BaseModel):
    """A key as listed: never the key itself, only its first characters."""

    id: int
    name: str
    shown: str = Field(description="the first characters of the key")
    scopes: list[str]
    rate_per_min: int | None
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        """The listing of a stored key."""
        return cls(
            id=key.id,
            name=key.name,
            shown=key.shown,
            scopes=sorted(s.value for s in key.scopes),
            rate_per_min=key.rate_per_min,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class KeyCreated(KeyOut):
    """A new key: ``key`` is shown this once and never stored."""

    key: str


class Reloaded(BaseModel):
    """The data generation now in use by the worker that answered."""

    generation: int
    datasets: dict[str, str] = Field(description="version in use per geography")
    detail: str
