"""Finding official files locally, or downloading them from a (local) publisher."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.data.importer import import_qpv_file
from app.data.sources import QPV, Source, fetch, find_local, load_manifest
from app.db.session import make_engine
from app.errors import UpstreamError
from app.spatial.geography import Geography
from tests.conftest import GEODATA, QPV2024_GEOJSON
from tests.data.loopback import Publisher, serve

PAYLOAD = QPV2024_GEOJSON.read_bytes()
RESOURCE = "QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson"


def _routes(host: str) -> dict[str, bytes]:
    """A data.gouv.fr-like dataset API and file server."""
    resources = [
        {"title": "Autre fichier.csv", "url": f"{host}/files/other.csv"},
        {"title": RESOURCE, "url": f"{host}/files/{RESOURCE}"},
    ]
    return {
        "/api/1/datasets/qpv/": json.dumps({"resources": resources}).encode(),
        f"/files/{RESOURCE}": PAYLOAD,
    }


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    with serve(_routes) as running:
        yield running


def _source(base: str, sha256: str | None = None) -> Source:
    return Source(
        geography=Geography.QPV2024,
        local_names=(RESOURCE,),
        resource=RESOURCE,
        dataset_api=f"{base}/api/1/datasets/qpv/",
        sha256=sha256,
    )


def test_the_packaged_manifest_names_both_geographies() -> None:
    sources = load_manifest(kind=QPV)
    assert {s.geography for s in sources} == {Geography.QPV2015, Geography.QPV2024}
    assert all(find_local(s, GEODATA) is not None for s in sources)


def test_a_missing_file_is_downloaded_through_the_dataset_api_and_imports(
    tmp_path: Path, publisher: Publisher, sqlite_url: str
) -> None:
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    with httpx.Client() as client:
        path = fetch(_source(publisher.url, sha), tmp_path / "empty", tmp_path / "cache", client)
    assert path == tmp_path / "cache" / RESOURCE
    assert path.read_bytes() == PAYLOAD
    assert import_qpv_file(make_engine(sqlite_url), path).feature_count == 1584
    assert publisher.requests == ["/api/1/datasets/qpv/", f"/files/{RESOURCE}"]


def test_a_cached_download_is_not_fetched_again(tmp_path: Path, publisher: Publisher) -> None:
    with httpx.Client() as client:
        fetch(_source(publisher.url), tmp_path, tmp_path / "cache", client)
        fetch(_source(publisher.url), tmp_path, tmp_path / "cache", client)
    assert len(publisher.requests) == 2


def test_a_download_with_the_wrong_hash_is_refused_and_not_kept(
    tmp_path: Path, publisher: Publisher
) -> None:
    with httpx.Client() as client, pytest.raises(UpstreamError, match="sha256"):
        fetch(_source(publisher.url, "0" * 64), tmp_path, tmp_path / "cache", client)
    assert list((tmp_path / "cache").iterdir()) == []


def test_an_unreachable_publisher_is_a_clear_error(tmp_path: Path) -> None:
    with (
        httpx.Client(timeout=2) as client,
        pytest.raises(UpstreamError, match="could not download"),
    ):
        fetch(_source("http://127.0.0.1:9"), tmp_path, tmp_path / "cache", client)


def test_a_local_file_wins_over_the_download(tmp_path: Path, publisher: Publisher) -> None:
    local = tmp_path / "data" / "nested" / RESOURCE
    local.parent.mkdir(parents=True)
    local.write_bytes(b"{}")
    with httpx.Client() as client:
        assert fetch(_source(publisher.url), tmp_path / "data", tmp_path / "cache", client) == local
    assert publisher.requests == []
