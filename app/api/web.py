"""The French web page (``/``, ``/fichier``, ``/ecarts``): HTML shells and bundled assets.

Every page is static HTML calling the public API from the browser; the scripts, styles and
fonts are built from npm packages by ``web/build.mjs`` into ``app/web/static`` (never a CDN).
The operator's settings reach the scripts as data attributes: no inline script, strict CSP.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from functools import cache
from importlib.resources import files
from pathlib import Path
from string import Template

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.settings import Settings

STATIC = "/static"
# path -> (template, title, navigation label)
PAGES = {
    "/": ("lookup.html", "Adresse ou point", "Adresse ou point"),
    "/fichier": ("file.html", "Fichier", "Traiter un fichier"),
    "/ecarts": ("gaps.html", "Écarts", "Écarts QPV / hors QPV"),
}


def web_dir() -> Path:
    """The folder holding pages/ (committed) and static/ (built by ``npm run build``)."""
    return Path(str(files("app") / "web"))


@cache
def _template(name: str) -> Template:
    return Template((web_dir() / "pages" / name).read_text(encoding="utf-8"))


def _nav(current: str) -> str:
    items = []
    for path, (_, _, label) in PAGES.items():
        here = " aria-current='page'" if path == current else ""
        items.append(
            f"<li class='fr-nav__item'><a class='fr-nav__link' href='{path}'{here}>{label}</a></li>"
        )
    return "".join(items)


def render(path: str, settings: Settings) -> str:
    """The page at ``path`` with the operator's map and access settings as data attributes."""
    name, title, _ = PAGES[path]
    config = {
        "data-basemap-url": settings.web_basemap_url or "",
        "data-basemap-attribution": settings.web_basemap_attribution,
        # closed: the scripts show the "Clé d'API" field and send the key on every call
        "data-access": "open" if settings.open_access else "closed",
    }
    attributes = " ".join(f"{k}='{html.escape(v, quote=True)}'" for k, v in config.items())
    return _template("layout.html").substitute(
        title=title,
        nav=_nav(path),
        config=attributes,
        main=_template(name).substitute(),
        static=STATIC,
    )


def _endpoint(path: str, settings: Settings) -> Callable[[], Awaitable[HTMLResponse]]:
    body = render(path, settings)

    async def page() -> HTMLResponse:
        return HTMLResponse(body)

    return page


def install(app: FastAPI, settings: Settings) -> None:
    """Add the pages and mount the built assets (a missing build leaves the pages unstyled)."""
    for path in PAGES:
        app.add_api_route(path, _endpoint(path, settings), include_in_schema=False)
    # check_dir=False: the API starts without the built assets (`make` builds them).
    static = StaticFiles(directory=web_dir() / "static", check_dir=False)
    app.mount(STATIC, static, name="web-static")
