"""A closed service (API keys required) on its own copy of the loaded SQLite file."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from app.db.access import create_key
from app.db.session import make_engine
from app.main import create_app
from app.settings import Settings
from tests.jobs.conftest import JOBS_REDIS

SECRET = "a-test-secret-of-the-keys"
# name -> scopes of the keys every closed app starts with
KEYS = {
    "lookup": "lookup",
    "batch": "batch",
    "admin": "admin",
    "other": "lookup,batch",
}


def copy_database(url: str, folder: Path) -> str:
    """A copy of a SQLite database file, as a URL (tests may write to it)."""
    source = Path(str(make_url(url).database))
    target = folder / "copy.sqlite3"
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + "-wal")  # pages not yet checkpointed
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))
    return f"sqlite:///{target}"


def closed(settings: Settings, **update: object) -> Settings:
    """The settings of a service that needs API keys."""
    values = {"open_access": False, "api_key_secret": SecretStr(SECRET), **update}
    return settings.model_copy(update=values)


def add_key(url: str, scopes: str, rate_per_min: int | None = None, name: str = "test") -> str:
    """A new key in the database at ``url``: its token."""
    engine = make_engine(url)
    try:
        return create_key(engine, SECRET, name, scopes, rate_per_min)[1]
    finally:
        engine.dispose()


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a key."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Closed:
    """A client of a closed app and the tokens of its keys."""

    client: TestClient
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, name: str) -> dict[str, str]:
        """The Authorization header of the named key."""
        return bearer(self.tokens[name])


def closed_settings(url: str, namespace: str, folder: Path, **update: object) -> Settings:
    """Closed settings on ``url``, with this session's Redis namespace for jobs and limits."""
    settings = Settings(
        database_url=url,
        geocoders=[],
        redis_url=JOBS_REDIS,
        jobs_namespace=f"{namespace}-{uuid.uuid4().hex[:6]}",
        jobs_dir=folder / "jobs",
        api_key_cache_s=0,  # revocations show at once
    )
    return closed(settings, **update)


@contextmanager
def closed_service(url: str, settings: Settings) -> Iterator[Closed]:
    """A closed app on a writable database and one key per entry of KEYS."""
    tokens = {name: add_key(url, scopes, name=name) for name, scopes in KEYS.items()}
    with TestClient(create_app(settings)) as client:
        yield Closed(client, settings, tokens)


@pytest.fixture
def keyed_url(loaded_sqlite_url: str, tmp_path: Path) -> str:
    """A writable copy of the loaded SQLite file."""
    return copy_database(loaded_sqlite_url, tmp_path)


@pytest.fixture(scope="module")
def closed_app(
    loaded_sqlite_url: str, session_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Closed]:
    """A closed app shared by a module's tests (which leave its keys as they found them)."""
    folder = tmp_path_factory.mktemp("closed")
    url = copy_database(loaded_sqlite_url, folder)
    with closed_service(url, closed_settings(url, session_namespace, folder)) as service:
        yield service


@pytest.fixture
def fresh_closed_app(keyed_url: str, session_namespace: str, tmp_path: Path) -> Iterator[Closed]:
    """A closed app of one test's own."""
    with closed_service(keyed_url, closed_settings(keyed_url, session_namespace, tmp_path)) as c:
        yield c
