"""The HTML report opened in headless Chromium (Debian's package): offline, no error, readable."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.stats import example, html
from app.stats.gaps import analyse
from app.stats.indicators import Analysis, BinaryRate, CategoricalShares
from tests.stats.conftest import ARTEFACTS

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def _chromium() -> None:
    # A failure, not a skip: a skipped browser test would hide a missing install step.
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make chromium` (make test does)")


def _open(page_html: str, name: str) -> tuple[list[str], list[str], dict[str, object]]:
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.html"
    path.write_text(page_html, encoding="utf-8")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1150, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            facts = page.evaluate(
                """() => ({
                    lang: document.documentElement.lang,
                    svgs: document.querySelectorAll('svg').length,
                    svgWidth: document.querySelector('svg').getBoundingClientRect().width,
                    scripts: document.scripts.length,
                    h2: [...document.querySelectorAll('h2')].map(h => h.textContent),
                })"""
            )
            page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
        finally:
            browser.close()
    return errors, [r for r in requests if r != path.as_uri()], facts


def test_the_admissions_report_opens_offline_without_errors(admissions: example.Example) -> None:
    tagged = example.tagged_file(admissions)
    report = analyse(tagged, Analysis(BinaryRate("admis"), by=("academie", "sexe")))
    errors, requests, facts = _open(html.render(report), "gaps-admissions")
    assert errors == [] and requests == []
    assert facts["lang"] == "fr" and facts["svgs"] == 1 and facts["scripts"] == 0
    assert facts["svgWidth"] == 1000
    assert facts["h2"] == [
        "Source",
        "Valeurs et écarts par groupe",
        "Effectifs et écarts",
        "Lignes incertaines",
        "Sensibilité au traitement des lignes incertaines",
        "Secret statistique",
        "Notes",
    ]
    assert (ARTEFACTS / "gaps-admissions.png").stat().st_size > 10_000


def test_a_report_with_suppressed_cells_and_shares_renders_too(admissions: example.Example) -> None:
    small = example.tagged_file(admissions).head(300)
    report = analyse(small, Analysis(CategoricalShares("voeu"), by=("academie", "sexe")))
    assert report.suppression["primaires"] > 0
    page = html.render(report)
    errors, requests, _ = _open(page, "gaps-suppressed")
    assert errors == [] and requests == []
    assert "secret" in page and "non publié" in page
