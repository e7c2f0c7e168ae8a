"""/docs and /redoc work offline: local assets, every status described, rendered in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.schemas import STATUS_MEANINGS
from app.main import create_app
from app.settings import Settings
from tests.conftest import running_server

CHROMIUM = Path("/usr/bin/chromium")
# Redoc's sidebar credit shows a logo from its CDN, unconditionally: the CSP stops it before
# any request is made, and Redoc hides the broken image. Nothing else may be refused.
REDOC_CREDIT = "Loading the image 'https://cdn.redoc.ly/redoc/logo-mini.svg' violates"
OPERATIONS = {"/v1/point", "/v1/address", "/v1/qpv", "/v1/qpv/{code}", "/v1/datasets"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_load_their_assets_from_the_service(sqlite_client: TestClient, page: str) -> None:
    html = sqlite_client.get(page).text
    assert "cdn" not in html.lower() and "https://" not in html and "<script>" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"):
        response = sqlite_client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.content) > 1000


def test_every_answer_status_is_described_in_the_openapi_schema(sqlite_client: TestClient) -> None:
    schemas = sqlite_client.get("/openapi.json").json()["components"]["schemas"]
    for name, expected in [("PointResult", 3), ("AddressResult", 7)]:
        status = schemas[name]["properties"]["status"]
        assert len(status["enum"]) == expected
        described = status["x-enum-descriptions"]
        assert set(described) == set(status["enum"])
        for value in status["enum"]:
            assert described[value] == STATUS_MEANINGS[value]
            assert f"- `{value}`: " in status["description"]


@pytest.fixture(scope="module")
def served(loaded_sqlite_url: str) -> Iterator[str]:
    """The app on a real loopback port."""
    with running_server(create_app(Settings(database_url=loaded_sqlite_url, geocoders=[]))) as url:
        yield url


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium: `make test` installs it")
@pytest.mark.parametrize(
    ("page", "selector"),
    [("/docs", ".opblock-summary-path"), ("/redoc", "[data-section-id^='tag/'], .menu-content")],
)
def test_chromium_renders_the_operations_with_no_request_leaving_the_machine(
    served: str, page: str, selector: str, tmp_path: Path
) -> None:
    from playwright.sync_api import Route, sync_playwright

    requested: list[str] = []
    blocked: list[str] = []
    errors: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        requested.append(url)
        if url.startswith((served + "/", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = browser.new_context()
            context.route("**/*", only_loopback)
            tab = context.new_page()
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(served + page, wait_until="networkidle")
            tab.wait_for_selector(selector, timeout=60_000)
            text = tab.inner_text("body")
            tab.screenshot(path=str(tmp_path / "page.png"))
        finally:
            browser.close()
    assert blocked == []
    assert [e for e in errors if not e.startswith(REDOC_CREDIT)] == []
    assert served + "/openapi.json" in requested
    if page == "/docs":
        assert set(text.split()) >= OPERATIONS
    else:
        for summary in ("Point", "Address", "List Datasets"):
            assert summary in text
    assert (tmp_path / "page.png").stat().st_size > 10_000  # something was drawn
