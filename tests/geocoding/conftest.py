"""Fixtures for the geocoding tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BAN_BONDY

# --- addok_server: a real addok (BAN search engine) on loopback, for the `ban` provider ---
# Redis location for the addok tests; databases are picked by addok_server.claim_redis_dbs.
ADDOK_REDIS = os.environ.get("QPV_TEST_REDIS", "127.0.0.1:6379")


@pytest.fixture(scope="session")
def addok_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of an addok serving the Bondy BAN extract (/search and /search/csv)."""
    from tests.geocoding.addok_server import AddokServer, check_redis, claim_redis_dbs

    host, _, port = ADDOK_REDIS.rpartition(":")
    check_redis(host, int(port))
    assert BAN_BONDY.is_file(), f"BAN extract not found at {BAN_BONDY}"
    workdir: Path = tmp_path_factory.mktemp("addok")
    with claim_redis_dbs(host, int(port)) as redis_target:
        server = AddokServer(BAN_BONDY, workdir, redis_target)
        try:
            server.build()
            yield server.start()
        finally:
            server.stop()
            redis_target.flush()
