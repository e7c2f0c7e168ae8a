"""``/docs`` (Swagger UI) and ``/redoc`` served offline: assets from an installed package.

The assets (swagger-ui bundle and CSS, redoc standalone) ship in the fastapi-offline wheel;
nothing is fetched from a CDN, and no page has an inline script, so the CSP stays strict.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"


def assets_dir() -> Path:
    """The folder holding swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js."""
    return Path(str(files("fastapi_offline") / "static"))


def _page(title: str, head: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title>"
        f"<link rel='icon' type='image/png' href='{ASSETS}/favicon.png'>{head}</head>"
        f"<body>{body}</body></html>"
    )


def install(app: FastAPI) -> None:
    """Add /docs, /redoc and their assets (create the app with docs_url=redoc_url=None)."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} - API documentation"
    swagger = _page(
        title,
        f"<link rel='stylesheet' href='{ASSETS}/swagger-ui.css'>",
        f"<div id='swagger-ui'></div><script src='{ASSETS}/swagger-ui-bundle.js'></script>"
        "<script src='/docs/init.js'></script>",
    )
    init = (
        "window.ui = SwaggerUIBundle({"
        f"url: '{openapi_url}', dom_id: '#swagger-ui', deepLinking: true, "
        "showExtensions: true, presets: [SwaggerUIBundle.presets.apis], "
        "layout: 'BaseLayout'});\n"
    )
    redoc = _page(
        title,
        "",
        f"<redoc spec-url='{openapi_url}' hide-download-button='false'></redoc>"
        f"<script src='{ASSETS}/redoc.standalone.js'></script>",
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger)

    @app.get("/docs/init.js", include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(init, media_type="text/javascript")

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc)

    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")
