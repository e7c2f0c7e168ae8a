"""The web page in Debian's Chromium (Playwright, no browser download), on a real server.

One server per module: the app on loopback with the offline geocoder (Paris and Bondy BAN),
the job queue on the test Redis and one real ``qpv worker``. Every tab refuses any request
that would leave 127.0.0.1 and records console errors; the tests assert both are empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.api.web import web_dir
from app.main import create_app
from app.settings import Settings
from tests.api.access_fixtures import add_key, closed, copy_database
from tests.conftest import ROOT, running_server
from tests.jobs.conftest import JOBS_REDIS, WorkerPool, session_namespace  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Screenshots of each page, kept as test artefacts (copied to docs/screenshots for the README).
SHOTS = ROOT / "tests" / "artifacts" / "web"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium: `make test` installs it"
)


@pytest.fixture(scope="session", autouse=True)
def built_assets() -> None:
    """The bundle must exist: `make setup` / `make test` build it (`make web`)."""
    for name in ("main.js", "app.css"):
        assert (web_dir() / "static" / name).is_file(), "web assets not built: run `make web`"
    assert AXE.is_file(), "axe-core not installed: run `make web`"


def web_settings(url: str, namespace: str, folder: Path) -> Settings:
    """The settings of a web test server on ``url`` with the offline geocoder and the jobs."""
    return Settings(
        database_url=url,
        geocoders=["local"],
        redis_url=JOBS_REDIS,
        jobs_namespace=f"{namespace}-web-{uuid.uuid4().hex[:6]}",
        jobs_dir=folder / "jobs",
        job_chunk_rows=1000,
        access_log=False,
    )


@contextmanager
def serving(settings: Settings, folder: Path) -> Iterator[str]:
    """The app on loopback with one real worker: its base URL."""
    pool = WorkerPool(settings, folder)
    try:
        pool.start(1)
        with running_server(create_app(settings)) as url:
            yield url
    finally:
        pool.stop()


@pytest.fixture(scope="module")
def site(
    geocoded_sqlite_url: str,
    session_namespace: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Base URL of the service with the offline geocoder, the job queue and one worker."""
    folder = tmp_path_factory.mktemp("web")
    with serving(web_settings(geocoded_sqlite_url, session_namespace, folder), folder) as url:
        yield url


@dataclass
class ClosedSite:
    """A closed service (API keys required) and the tokens of its keys, by scopes."""

    url: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def closed_site(
    geocoded_sqlite_url: str,
    session_namespace: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ClosedSite]:
    """The same service, closed, on its own copy of the database with two keys."""
    folder = tmp_path_factory.mktemp("web-closed")
    url = copy_database(geocoded_sqlite_url, folder)
    tokens = {scopes: add_key(url, scopes) for scopes in ("lookup,batch", "lookup")}
    settings = closed(web_settings(url, session_namespace, folder), api_key_cache_s=0)
    with serving(settings, folder) as base:
        yield ClosedSite(base, tokens)


@dataclass
class Tab:
    """A page of a fresh browser context, with what it tried to fetch and what it logged."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        """Load a page of the service and wait for its requests to settle."""
        self.page.goto(self.base + path, wait_until="networkidle")

    def shot(self, name: str) -> Path:
        """A full-page screenshot under tests/artifacts/web."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        """No console error, no page error, no request refused for leaving the machine."""
        assert self.blocked == []
        assert self.errors == []


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def new_tab(browser: Any, site: str, width: int = 1280, **options: Any) -> Tab:
    """A tab in a French-speaking context whose requests may only go to the site."""
    context = browser.new_context(
        locale="fr-FR", viewport={"width": width, "height": 900}, accept_downloads=True, **options
    )
    tab = Tab(context.new_page(), site)

    def only_loopback(route: Any) -> None:
        url = route.request.url
        tab.requested.append(url)
        if url.startswith((site + "/", "data:", "blob:")):
            route.continue_()
        else:
            tab.blocked.append(url)
            route.abort()

    context.route("**/*", only_loopback)
    tab.page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
    return tab


@pytest.fixture
def tab(browser: Any, site: str) -> Iterator[Tab]:
    """A desktop-width tab, closed after the test."""
    t = new_tab(browser, site)
    try:
        yield t
    finally:
        t.page.context.close()
