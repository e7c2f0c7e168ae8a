"""require_schema: a missing, unmigrated or unreachable database is one clear error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.db.migrate import require_schema, upgrade
from app.errors import DatabaseNotReady
from tests.conftest import free_port


def test_a_migrated_database_passes(database_url: str) -> None:
    require_schema(database_url)


def test_a_missing_sqlite_file_is_reported_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "qpv.sqlite3"
    with pytest.raises(DatabaseNotReady, match=r"no database at .*run 'qpv db upgrade'"):
        require_schema(f"sqlite:///{path}")
    assert not path.exists()
    assert not path.parent.exists()


def test_an_unmigrated_database_says_to_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).close()
    with pytest.raises(DatabaseNotReady, match=r"is not migrated .*run 'qpv db upgrade'"):
        require_schema(f"sqlite:///{path}")


def test_an_older_revision_says_to_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0001")
    with pytest.raises(DatabaseNotReady, match=r"is at revision 0001.*run 'qpv db upgrade'"):
        require_schema(url)


def test_an_unreachable_server_is_reported_without_its_password() -> None:
    url = f"postgresql+psycopg://qpv:s3cret@127.0.0.1:{free_port()}/qpv"  # nobody listens
    with pytest.raises(DatabaseNotReady, match="does not answer") as caught:
        require_schema(url)
    assert "s3cret" not in caught.value.detail
