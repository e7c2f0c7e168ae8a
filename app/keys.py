"""API keys: random tokens, their keyed hash, and the scopes they grant (no web, no database).

A key is ``qpv_`` and 43 URL-safe characters (256 random bits). It is stored as
HMAC-SHA256(server secret, key): the keys are not guessable, so a slow password hash would
only cost CPU on every uncached request; the keyed hash can be looked up directly, and a
stolen table without the secret lets nobody even test a guess.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import SecretStr

from app.errors import InvalidInput

PREFIX = "qpv_"
# Shown in lists and logs to recognise a key: the prefix and a few characters, never more.
SHOWN_CHARS = 8


class Scope(StrEnum):
    """What a key may do."""

    LOOKUP = "lookup"  # points, addresses, quartiers, datasets
    BATCH = "batch"  # batches, jobs, gaps
    ADMIN = "admin"  # reload, keys


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret part."""

    id: int
    name: str
    shown: str  # the first characters of the token
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None = None
    rate_per_min: int | None = None  # overrides the scope's limit when set

    @property
    def owner(self) -> str:
        """The owner recorded on this key's jobs."""
        return f"key:{self.id}"


def new_token() -> str:
    """A fresh key, to be shown once."""
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(secret: str, token: str) -> str:
    """The keyed hash stored for ``token`` (hex)."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def looks_like_key(token: str) -> bool:
    """Whether ``token`` has the shape of a key (cheap check before any lookup)."""
    return token.startswith(PREFIX) and 20 <= len(token) <= 100


def parse_scopes(text: str | Iterable[str]) -> frozenset[Scope]:
    """Scopes from ``lookup,batch`` (or a list); InvalidInput names an unknown one."""
    names = text.split(",") if isinstance(text, str) else list(text)
    scopes: set[Scope] = set()
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        try:
            scopes.add(Scope(name))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise InvalidInput(f"unknown scope {name!r} (known: {known})") from None
    if not scopes:
        raise InvalidInput("give at least one scope")
    return frozenset(scopes)


def format_scopes(scopes: Iterable[Scope]) -> str:
    """Scopes as stored and shown: sorted, comma-separated."""
    return ",".join(sorted(s.value for s in scopes))


def server_secret(secret: SecretStr | None) -> str:
    """The server secret of the keys' hash, or InvalidInput saying how to set it."""
    if secret is None or not secret.get_secret_value():
        raise InvalidInput("QPV_API_KEY_SECRET is not set: the API keys are hashed with it")
    return secret.get_secret_value()
