"""The web page's HTML shells and assets, and the CSP that follows the basemap setting."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.api.middleware import CSP
from app.api.web import PAGES, web_dir
from app.main import create_app
from app.settings import Settings
from tests.api.access_fixtures import closed

BUILT = (web_dir() / "static" / "main.js").is_file()


@pytest.mark.parametrize("path", list(PAGES))
def test_each_page_is_french_html_with_local_assets_only(
    sqlite_client: TestClient, path: str
) -> None:
    response = sqlite_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert '<html lang="fr"' in html
    assert re.findall(r"(?:src|href)=\"(https?:[^\"]*)\"", html) == []
    assert "<script>" not in html  # no inline script: the CSP stays strict
    assert "aria-current='page'" in html
    assert 'data-basemap-url=""' in html or "data-basemap-url=''" in html
    assert response.headers["content-security-policy"] == CSP


@pytest.mark.skipif(not BUILT, reason="web assets not built (`make web`)")
@pytest.mark.parametrize("asset", ["main.js", "app.css", "favicon.svg"])
def test_the_built_assets_are_served_from_the_package(
    sqlite_client: TestClient, asset: str
) -> None:
    response = sqlite_client.get(f"/static/{asset}")
    assert response.status_code == 200 and len(response.content) > 1000
    assert b"https://cdn" not in response.content and b"unpkg.com" not in response.content


def test_a_basemap_is_named_on_the_page_and_allowed_for_images_only(
    loaded_sqlite_url: str,
) -> None:
    settings = Settings(
        database_url=loaded_sqlite_url,
        geocoders=[],
        web_basemap_url="https://tiles.example.org/{z}/{x}/{y}.png",
        web_basemap_attribution="© Exemple <contributeurs>",
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "img-src 'self' data: https://tiles.example.org;" in csp
    assert "connect-src 'self';" in csp and "script-src 'self';" in csp
    assert "data-basemap-url='https://tiles.example.org/{z}/{x}/{y}.png'" in response.text
    assert "© Exemple &lt;contributeurs&gt;" in response.text


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://tiles.example.org/no-zoom.png", "ftp://x/{z}"]
)
def test_a_basemap_url_must_be_an_http_tile_template(url: str) -> None:
    with pytest.raises(ValueError, match="web_basemap_url"):
        Settings(web_basemap_url=url)


@pytest.mark.parametrize(("open_access", "mode"), [(True, "open"), (False, "closed")])
def test_each_page_tells_its_scripts_whether_the_service_needs_a_key(
    loaded_sqlite_url: str, open_access: bool, mode: str
) -> None:
    settings = closed(Settings(database_url=loaded_sqlite_url, geocoders=[]))
    settings = settings.model_copy(update={"open_access": open_access})
    with TestClient(create_app(settings)) as client:
        pages = [client.get(path).text for path in PAGES]
    assert all(f"data-access='{mode}'" in html for html in pages)
