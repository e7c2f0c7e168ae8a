"""Queries on the API keys and the data generation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from app.db.models import ApiKeyRow, DataGeneration
from app.db.publication import publish
from app.errors import InvalidInput, NotFound
from app.keys import SHOWN_CHARS, ApiKey, format_scopes, key_hash, new_token, parse_scopes


def _record(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        shown=row.shown,
        scopes=parse_scopes(row.scopes),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        rate_per_min=row.rate_per_min,
    )


def create_key(
    engine: Engine, secret: str, name: str, scopes: str, rate_per_min: int | None = None
) -> tuple[ApiKey, str]:
    """Store a new key; returns its record and the token (shown once, never stored)."""
    granted = parse_scopes(scopes)
    if not name.strip():
        raise InvalidInput("give the key a name")
    if rate_per_min is not None and rate_per_min < 0:
        raise InvalidInput("the rate limit is a number of requests per minute, 0 or more")
    token = new_token()
    row = ApiKeyRow(
        name=name.strip(),
        shown=token[: len("qpv_") + SHOWN_CHARS],
        key_hash=key_hash(secret, token),
        scopes=format_scopes(granted),
        rate_per_min=rate_per_min,
        created_at=datetime.now(UTC),
    )
    with Session(engine) as session, session.begin():
        session.add(row)
        session.flush()
        record = _record(row)
    return record, token


def find_key(engine: Engine, digest: str) -> ApiKey | None:
    """The live (not revoked) key with this keyed hash, if any."""
    with Session(engine) as session:
        row = session.scalar(
            select(ApiKeyRow).where(ApiKeyRow.key_hash == digest, ApiKeyRow.revoked_at.is_(None))
        )
        return _record(row) if row is not None else None


def list_keys(engine: Engine) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    with Session(engine) as session:
        return [_record(r) for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]


def revoke_key(engine: Engine, ident: str) -> ApiKey:
    """Revoke the key with this id or shown prefix; NotFound when none is live."""
    condition = ApiKeyRow.shown == ident
    if ident.isdigit():
        condition = or_(condition, ApiKeyRow.id == int(ident))
    with Session(engine) as session, session.begin():
        row = session.scalar(
            select(ApiKeyRow).where(condition, ApiKeyRow.revoked_at.is_(None)).limit(1)
        )
        if row is None:
            raise NotFound(f"no live key {ident}")
        row.revoked_at = datetime.now(UTC)
        return _record(row)


def data_generation(engine: Engine) -> int:
    """The current data generation (0 before any bump)."""
    with engine.connect() as conn:
        value = conn.scalar(select(DataGeneration.generation).where(DataGeneration.id == 1))
    return int(value or 0)


def bump_generation(engine: Engine) -> int:
    """Move the data generation on, so that every server worker reloads; returns it."""
    with engine.begin() as conn:
        return publish(conn)
