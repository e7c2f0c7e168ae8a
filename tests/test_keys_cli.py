"""``qpv keys create|list|revoke`` on each backend: shown once, stored as a keyed hash."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.cli import main
from app.db.access import find_key
from app.db.models import ApiKeyRow
from app.db.session import make_engine
from app.keys import key_hash

SECRET = "cli-test-secret"


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's settings: the test's database and a key secret."""
    monkeypatch.setenv("QPV_DATABASE_URL", database_url)
    monkeypatch.setenv("QPV_API_KEY_SECRET", SECRET)
    return database_url


def _create(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["keys", "create", *args]) == 0
    out = capsys.readouterr()
    assert "shown once" in out.err
    return out.out.strip()


def test_a_created_key_is_printed_once_and_stored_as_its_keyed_hash_only(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _create(capsys, "--name", "admissions", "--scopes", "lookup,batch")
    assert token.startswith("qpv_") and len(token) == 47
    engine = make_engine(env)
    with engine.connect() as conn:
        rows = conn.execute(select(ApiKeyRow.key_hash, ApiKeyRow.shown, ApiKeyRow.scopes)).all()
    assert rows == [(key_hash(SECRET, token), token[:12], "batch,lookup")]
    key = find_key(engine, key_hash(SECRET, token))
    assert key is not None and key.name == "admissions"
    engine.dispose()


def test_list_shows_every_key_without_the_key_itself(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _create(capsys, "--name", "one", "--scopes", "lookup")
    _create(capsys, "--name", "two", "--scopes", "admin", "--rate-per-min", "30")
    assert main(["keys", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # header and two keys
    assert lines[1].split("\t")[:5] == ["1", f"{first[:12]}...", "one", "lookup", "default rate"]
    assert lines[2].split("\t")[2:5] == ["two", "admin", "30/min"]
    assert first not in "\n".join(lines)


@pytest.mark.parametrize("by", ["id", "shown"])
def test_a_revoked_key_is_no_longer_found(
    env: str, capsys: pytest.CaptureFixture[str], by: str
) -> None:
    token = _create(capsys, "--name", "gone", "--scopes", "lookup")
    ident = "1" if by == "id" else f"{token[:12]}..."
    assert main(["keys", "revoke", ident]) == 0
    assert "revoked key 1 (gone)" in capsys.readouterr().out
    engine = make_engine(env)
    assert find_key(engine, key_hash(SECRET, token)) is None
    engine.dispose()
    assert main(["keys", "revoke", ident]) == 2
    assert "no live key" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "x", "--scopes", "lookup,write"], "unknown scope 'write'"),
        (["--name", "x", "--scopes", ","], "at least one scope"),
        (["--name", " ", "--scopes", "lookup"], "give the key a name"),
    ],
    ids=["unknown-scope", "no-scope", "no-name"],
)
def test_a_bad_key_request_is_a_one_line_error(
    env: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["keys", "create", *args]) == 2
    assert message in capsys.readouterr().err


def test_creating_a_key_without_the_secret_says_which_setting_to_set(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QPV_API_KEY_SECRET")
    assert main(["keys", "create", "--name", "x", "--scopes", "lookup"]) == 2
    assert "QPV_API_KEY_SECRET is not set" in capsys.readouterr().err
