"""Official sources (QPV files, administrative divisions): find them in the data folder, or
download them from their publisher (data.gouv.fr, the npm registry)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.errors import UpstreamError
from app.spatial.geography import Geography

log = logging.getLogger(__name__)
DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "geodata" / "sources.json"


QPV, DIVISIONS = "qpv", "divisions"
NPM_REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True, slots=True)
class Source:
    """One official file and where to get it: a QPV geography, or the administrative divisions."""

    geography: Geography | None
    local_names: tuple[str, ...]
    resource: str
    kind: str = QPV
    dataset_api: str | None = None
    url: str | None = None
    member: str | None = None
    sha256: str | None = None
    # Published on npm: the registry's metadata gives the tarball URL of this version.
    npm_package: str | None = None
    npm_version: str | None = None
    npm_registry: str = NPM_REGISTRY


def load_manifest(path: Path | None = None, kind: str | None = None) -> list[Source]:
    """The sources listed in a manifest file (default: geodata/sources.json), of one kind."""
    data: dict[str, Any] = json.loads((path or DEFAULT_MANIFEST).read_text(encoding="utf-8"))
    sources = [
        Source(
            geography=Geography(item["geography"]) if item.get("geography") else None,
            local_names=tuple(item.get("local_names", ())),
            resource=item["resource"],
            kind=item.get("kind", QPV),
            dataset_api=item.get("dataset_api"),
            url=item.get("url"),
            member=item.get("member"),
            sha256=item.get("sha256"),
            npm_package=item.get("npm_package"),
            npm_version=item.get("npm_version"),
            npm_registry=item.get("npm_registry", NPM_REGISTRY),
        )
        for item in data["sources"]
    ]
    return [s for s in sources if kind is None or s.kind == kind]


def find_local(source: Source, folder: Path) -> Path | None:
    """The first file under ``folder`` named like one of the source's local names."""
    if not folder.is_dir():
        return None
    for name in source.local_names:
        found = sorted(folder.rglob(name))
        if found:
            return found[0]
    return None


def resolve_url(source: Source, client: httpx.Client) -> str:
    """The download URL: given directly, or looked up in the npm registry or the data.gouv.fr
    dataset API."""
    if source.url:
        return source.url
    if source.npm_package:
        return _npm_tarball_url(source, client)
    if not source.dataset_api:
        raise UpstreamError(f"source {source.resource} has neither url nor dataset_api")
    response = client.get(source.dataset_api)
    response.raise_for_status()
    for resource in response.json().get("resources", []):
        title, url = resource.get("title") or "", resource.get("url") or ""
        if title == source.resource or url.rstrip("/").endswith("/" + source.resource):
            return str(url)
    raise UpstreamError(f"the dataset API lists no resource named {source.resource}")


def _npm_tarball_url(source: Source, client: httpx.Client) -> str:
    """The tarball URL of the source's package version, from the registry's metadata."""
    assert source.npm_package is not None
    # A scoped name travels with its slash escaped: /@etalab%2fdecoupage-administratif.
    name = source.npm_package.replace("/", "%2f")
    response = client.get(
        f"{source.npm_registry.rstrip('/')}/{name}",
        headers={"Accept": "application/vnd.npm.install-v1+json"},  # the abbreviated metadata
    )
    response.raise_for_status()
    try:
        metadata = response.json()
        version = source.npm_version or metadata["dist-tags"]["latest"]
        return str(metadata["versions"][version]["dist"]["tarball"])
    except (ValueError, KeyError, TypeError):
        raise UpstreamError(
            f"the npm registry lists no version {source.npm_version} of {source.npm_package}"
        ) from None


def download(url: str, target: Path, client: httpx.Client, sha256: str | None = None) -> Path:
    """Stream ``url`` to ``target`` atomically, checking the hash when one is known."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, client.stream("GET", url) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes(1 << 16):
                digest.update(chunk)
                out.write(chunk)
        if sha256 and digest.hexdigest() != sha256:
            raise UpstreamError(
                f"{target.name}: sha256 {digest.hexdigest()} differs from the manifest's {sha256}"
            )
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    log.info("downloaded %s (%s)", target.name, digest.hexdigest()[:12])
    return target


def fetch(source: Source, data_dir: Path, download_dir: Path, client: httpx.Client) -> Path:
    """A local copy of the source: found in ``data_dir``, cached, or downloaded now."""
    local = find_local(source, data_dir)
    if local is not None:
        return local
    cached = download_dir / source.resource
    if cached.is_file():
        return cached
    try:
        return download(resolve_url(source, client), cached, client, source.sha256)
    except httpx.HTTPError as exc:
        raise UpstreamError(f"could not download {source.resource}: {exc}") from None
