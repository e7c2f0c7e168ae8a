"""The data generation and key queries on each backend."""

from __future__ import annotations

from app.db.access import bump_generation, create_key, data_generation, find_key, revoke_key
from app.db.session import make_engine
from app.keys import Scope, key_hash


def test_the_data_generation_starts_at_zero_and_each_bump_moves_it_by_one(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    assert data_generation(engine) == 0
    assert [bump_generation(engine) for _ in range(3)] == [1, 2, 3]
    assert data_generation(engine) == 3
    engine.dispose()


def test_a_key_is_found_by_its_keyed_hash_until_revoked(database_url: str) -> None:
    engine = make_engine(database_url)
    key, token = create_key(engine, "s", "partner", "batch,lookup", rate_per_min=120)
    found = find_key(engine, key_hash("s", token))
    assert found == key
    assert (found.scopes, found.rate_per_min) == (frozenset({Scope.LOOKUP, Scope.BATCH}), 120)
    assert find_key(engine, key_hash("another secret", token)) is None
    revoke_key(engine, key.shown)
    assert find_key(engine, key_hash("s", token)) is None
    engine.dispose()
