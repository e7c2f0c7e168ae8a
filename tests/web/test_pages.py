"""The three pages driven in Chromium: lookups, a file tagged by a job, a gap report, axe."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import AXE, Tab, new_tab

# Goutte d'Or and Bondy: known answers of the 2024 geography (see README examples).
BONDY = "4 rue Eric Tabarly 93140 Bondy"
DISTANCE = r"[\d\s\u202f]+(,\d)? k?m"  # 240 m, 1 250 m, 29,7 km (French digit groups)
CSV_ROWS = [
    ["id", "adresse", "code_postal", "commune", "admis"],
    ["1", "4 rue Eric Tabarly", "93140", "Bondy", "oui"],
    ["2", "12 boulevard de la Villette", "75019", "Paris", "non"],
    ["3", "", "", "", "oui"],
]


def answer_title(tab: Tab) -> str:
    """The plain French answer shown once a lookup is done."""
    tab.page.wait_for_selector("#reponse .qpv-answer__title", timeout=30_000)
    return str(tab.page.inner_text("#reponse .qpv-answer__title"))


def test_an_address_typed_gets_suggestions_then_a_plain_french_yes_drawn_on_the_map(
    tab: Tab,
) -> None:
    tab.open("/")
    box = tab.page.locator("#adresse")
    box.press_sequentially("4 rue eric tab", delay=20)
    option = tab.page.locator("#suggestions [role=option]").first
    option.wait_for(timeout=30_000)
    expect(option).to_have_text("4 Rue Eric Tabarly 93140 Bondy")
    # The suggestions come from the autocompletion (API Adresse's /search/), not /v1/address.
    assert any("/search/?" in u and "autocomplete=1" in u for u in tab.requested)
    assert not any("/v1/address" in u for u in tab.requested)
    assert box.get_attribute("aria-expanded") == "true"
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "suggestion-0"
    box.press("Enter")
    title = answer_title(tab)
    assert title.startswith("Oui, dans le quartier prioritaire ")
    assert title.endswith("(QN09314M)")
    assert tab.page.get_attribute("#reponse .fr-alert", "data-status") == "in"
    # The point, the quartier's boundary and the distance to it are drawn.
    tab.page.wait_for_selector(".qpv-distance")
    assert re.fullmatch(r"\d[\d\s\u202f]* m", tab.page.inner_text(".qpv-distance").strip())
    assert "géographie 2024" in tab.page.inner_text("#legende")
    tab.shot("recherche-adresse")
    tab.assert_clean()


def test_a_click_on_the_map_answers_that_point_in_the_chosen_geography(tab: Tab) -> None:
    tab.open("/")
    tab.page.select_option("#geographie", "2015")
    expect(tab.page.locator("#legende")).to_contain_text("géographie 2015", timeout=30_000)
    # The centre of the hexagone (Cher): kilometres from any quartier.
    size = tab.page.locator("#carte").bounding_box()
    assert size is not None
    tab.page.mouse.click(size["x"] + size["width"] / 2, size["y"] + size["height"] / 2)
    title = answer_title(tab)
    assert re.fullmatch(rf"Non, à {DISTANCE} du quartier prioritaire .+ \(QP\d{{6}}\)", title)
    details = tab.page.inner_text("#reponse")
    assert "Géographie 2015" in details
    point_calls = [u for u in tab.requested if "/v1/point?" in u]
    assert len(point_calls) == 1 and "geography=2015" in point_calls[0]
    tab.shot("recherche-carte")
    tab.assert_clean()


def test_the_keyboard_reaches_the_map_and_asks_for_its_centre(tab: Tab) -> None:
    tab.open("/")
    tab.page.keyboard.press("Tab")
    first = tab.page.evaluate("document.activeElement.textContent")
    assert first == "Contenu"  # the skip link comes first
    tab.page.focus("#centre")
    tab.page.keyboard.press("Enter")
    assert answer_title(tab).startswith("Non, à ")
    outline = tab.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus stays visible
    tab.assert_clean()


def _upload(tmp_path: Path) -> Path:
    path = tmp_path / "candidats.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=";").writerows(CSV_ROWS)
    return path


def test_a_file_is_previewed_tagged_by_a_job_and_downloaded_with_its_errors_listed(
    tab: Tab, tmp_path: Path
) -> None:
    tab.open("/fichier")
    tab.page.set_input_files("#fichier", str(_upload(tmp_path)))
    tab.page.wait_for_selector("#apercu table")
    preview = tab.page.inner_text("#apercu tbody")
    assert "4 rue Eric Tabarly" in preview and len(preview.strip().splitlines()) == 3
    # Columns guessed from their names.
    checked = tab.page.eval_on_selector_all(
        "#colonnes-adresse input:checked", "els => els.map(e => e.value)"
    )
    assert checked == ["adresse", "commune"]
    assert tab.page.input_value("#col-cp") == "code_postal"
    tab.page.select_option("#geographie", "2024")
    tab.page.click("#lancer")
    link = tab.page.locator("#telecharger")
    link.wait_for(timeout=60_000)
    progress = tab.page.inner_text("#etat")
    assert "3 lignes traitées sur 3" in progress and "Terminé" in progress
    with tab.page.expect_download() as download:
        link.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["qpv_status"] == "in" and rows[0]["qpv_code"] == "QN09314M"
    assert rows[2]["qpv_status"] == "invalid"
    tab.page.wait_for_selector("#liste-erreurs table")
    errors = tab.page.inner_text("#liste-erreurs tbody")
    assert errors.splitlines()[0].startswith("4\tLigne invalide\t")  # file line 4: row 3
    tab.shot("fichier")
    # The finished job goes on to the gap page by its id (its result read by range).
    tab.page.click("text=Analyser les écarts")
    tab.page.wait_for_selector("#choix:not([hidden])")
    assert tab.page.input_value("#resultat") == "admis"
    tab.page.click("#calculer")
    tab.page.wait_for_selector("#rapport table", timeout=60_000)
    assert "Ensemble" in tab.page.inner_text("#rapport")  # 3 rows: every cell under the secret
    tab.assert_clean()


def test_a_bad_column_choice_is_explained_not_queued(tab: Tab, tmp_path: Path) -> None:
    tab.open("/fichier")
    tab.page.set_input_files("#fichier", str(_upload(tmp_path)))
    tab.page.wait_for_selector("#apercu table")
    tab.page.click("label[for=mode-coord]")  # DSFR draws the radio on its label
    tab.page.click("#lancer")
    tab.page.wait_for_selector("#etat .fr-alert--error")
    assert "lat" in tab.page.inner_text("#etat")
    # The 422 itself is a console error of the browser's network layer: expected here.
    assert all("422" in e for e in tab.errors)
    assert tab.blocked == []


def test_a_gap_report_of_a_tagged_file_with_its_chart_tables_and_html_download(
    tab: Tab, admissions_csv: Path
) -> None:
    tab.open("/ecarts")
    tab.page.set_input_files("#fichier", str(admissions_csv))
    tab.page.wait_for_selector("#choix:not([hidden])")
    assert tab.page.input_value("#resultat") == "admis"
    box = tab.page.locator("#groupes input[value=sexe]")
    tab.page.click(f"label[for={box.get_attribute('id')}]")
    assert box.is_checked()
    tab.page.click("#calculer")
    tab.page.wait_for_selector("#rapport table", timeout=60_000)
    main = tab.page.locator("#rapport table").first.inner_text()
    assert "sexe = F" in main and "sexe = M" in main and "Ensemble" in main
    assert tab.page.locator("#rapport svg[role=img] circle").count() == 3
    sensitivity = tab.page.locator("#rapport table").nth(1).inner_text()
    assert "Tous les incertains comptés en QPV" in sensitivity
    with tab.page.expect_download() as download:
        tab.page.click("#telecharger")
    assert download.value.suggested_filename == "rapport-ecarts-qpv.html"
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "sexe" in html
    tab.shot("ecarts")
    tab.assert_clean()


def test_the_lookup_page_fits_a_phone(browser: Any, site: str) -> None:
    tab = new_tab(browser, site, width=375)
    try:
        tab.open("/")
        tab.page.fill("#adresse", BONDY)
        tab.page.click("#chercher")
        answer_title(tab)
        overflow = tab.page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 375
        tab.shot("recherche-telephone")
        tab.assert_clean()
    finally:
        tab.page.context.close()


@pytest.mark.parametrize("path", ["/", "/fichier", "/ecarts"])
def test_axe_finds_no_serious_or_critical_violation(tab: Tab, path: str) -> None:
    tab.open(path)
    if path == "/":
        tab.page.fill("#adresse", BONDY)
        tab.page.click("#chercher")
        answer_title(tab)
    # Evaluated through the DevTools protocol: the page's CSP (no inline script) stays on.
    tab.page.evaluate(AXE.read_text(encoding="utf-8"))
    result = tab.page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, "
        "nodes: v.nodes.map(n => n.target.join(' '))})))"
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == []
    tab.assert_clean()


def test_an_xlsx_file_dropped_on_the_zone_is_previewed_with_coordinates_guessed(
    tab: Tab, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in [["nom", "latitude", "longitude"], ["a", 48.88699, 2.35313], ["b", 48.9, 2.3]]:
        sheet.append(row)
    path = tmp_path / "points.xlsx"
    book.save(path)
    tab.open("/fichier")
    # A real drop event carrying the file, as a person dragging it from their desktop.
    tab.page.evaluate(
        """([bytes, name]) => {
            const file = new File([new Uint8Array(bytes)], name);
            const data = new DataTransfer();
            data.items.add(file);
            const zone = document.querySelector('#depot');
            zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true}));
        }""",
        [list(path.read_bytes()), "points.xlsx"],
    )
    tab.page.wait_for_selector("#apercu table")
    assert tab.page.inner_text("#apercu thead").split() == ["nom", "latitude", "longitude"]
    assert "48.88699" in tab.page.inner_text("#apercu tbody")
    assert tab.page.is_checked("#mode-coord")
    assert tab.page.input_value("#col-lat") == "latitude"
    assert tab.page.input_value("#col-lon") == "longitude"
    tab.assert_clean()


def test_an_open_service_shows_no_key_field(tab: Tab) -> None:
    tab.open("/")
    tab.page.wait_for_selector("#legende:not(:empty)")
    assert tab.page.locator("#cle-api").count() == 0
    tab.assert_clean()
