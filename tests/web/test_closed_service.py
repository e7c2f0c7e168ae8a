"""The pages on a closed service: the "Clé d'API" field, the key sent on every call, refusals."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import AXE, ClosedSite, Tab, new_tab
from tests.web.test_pages import BONDY, _upload, answer_title

FULL = "lookup,batch"


@pytest.fixture
def closed_tab(browser: Any, closed_site: ClosedSite) -> Iterator[Tab]:
    """A desktop-width tab on the closed service."""
    t = new_tab(browser, closed_site.url)
    try:
        yield t
    finally:
        t.page.context.close()


def only_refusals(errors: list[str], status: int) -> bool:
    """The browser logs each refused call as a failed resource: those, and nothing else."""
    return all(f"status of {status}" in e for e in errors)


def test_without_a_key_a_lookup_says_one_is_needed_and_with_it_the_address_answers(
    closed_tab: Tab, closed_site: ClosedSite
) -> None:
    tab, token = closed_tab, closed_site.tokens[FULL]
    tab.open("/")
    field = tab.page.locator("#cle-api")
    assert field.get_attribute("type") == "password"
    assert "Clé d'API" in tab.page.inner_text("label[for=cle-api]")
    expect(tab.page.locator("#legende")).to_contain_text("Une clé d'API est nécessaire")
    tab.page.fill("#adresse", BONDY)
    tab.page.click("#chercher")
    alert = tab.page.locator("#reponse .fr-alert--error")
    expect(alert).to_contain_text("Une clé d'API est nécessaire")
    expect(tab.page.locator("#cle-message")).to_contain_text("Une clé d'API est nécessaire")
    assert only_refusals(tab.errors, 401) and len(tab.errors) >= 2
    refused = len(tab.errors)
    # Typed, then used by the next lookup from the keyboard alone.
    field.focus()
    tab.page.keyboard.type(token)
    tab.page.keyboard.press("Enter")
    expect(tab.page.locator("#cle-message")).to_contain_text("Clé enregistrée")
    tab.page.click("#chercher")
    assert answer_title(tab).endswith("(QN09314M)")
    expect(tab.page.locator("#legende")).to_contain_text("géographie 2024")  # the map's layer
    assert tab.errors[refused:] == [] and tab.blocked == []
    # Kept in the tab only, never in a URL.
    assert tab.page.evaluate("sessionStorage.getItem('qpv-cle-api')") == token
    assert tab.page.evaluate("localStorage.length") == 0
    assert not any(token in url for url in tab.requested)
    tab.shot("cle-api")


def test_a_file_is_tagged_and_downloaded_with_the_key_given_on_another_page(
    closed_tab: Tab, closed_site: ClosedSite, tmp_path: Path
) -> None:
    tab = closed_tab
    tab.open("/")
    assert only_refusals(tab.errors, 401)  # the map's layer, asked before the key was given
    tab.errors.clear()
    tab.page.fill("#cle-api", closed_site.tokens[FULL])
    tab.page.click("text=Traiter un fichier")  # same tab: the key follows
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.input_value("#cle-api") == closed_site.tokens[FULL]
    tab.page.set_input_files("#fichier", str(_upload(tmp_path)))
    tab.page.wait_for_selector("#apercu table")
    tab.page.select_option("#geographie", "2024")
    tab.page.click("#lancer")
    button = tab.page.locator("#telecharger")
    button.wait_for(timeout=60_000)
    with tab.page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename == "candidats-qpv.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [r["qpv_status"] for r in rows] == ["in", "out", "invalid"]
    tab.page.wait_for_selector("#liste-erreurs table")  # the result read with the key too
    # The gap page reads the job's result and posts the gaps with the same key.
    tab.page.click("text=Analyser les écarts")
    tab.page.wait_for_selector("#choix:not([hidden])")
    tab.page.click("#calculer")
    tab.page.wait_for_selector("#rapport table", timeout=60_000)
    tab.assert_clean()


def test_a_key_without_the_batch_scope_is_told_it_lacks_that_right(
    closed_tab: Tab, closed_site: ClosedSite, tmp_path: Path
) -> None:
    tab = closed_tab
    tab.open("/fichier")
    tab.page.fill("#cle-api", closed_site.tokens["lookup"])
    tab.page.set_input_files("#fichier", str(_upload(tmp_path)))
    tab.page.wait_for_selector("#apercu table")
    tab.page.click("#lancer")
    message = "Cette clé n'a pas le droit « batch »"
    expect(tab.page.locator("#etat .fr-alert--error")).to_contain_text(message)
    expect(tab.page.locator("#cle-message")).to_contain_text(message)
    assert only_refusals(tab.errors, 403) and len(tab.errors) == 1
    assert tab.blocked == []


def test_forgetting_the_key_empties_the_field_and_the_tab_s_storage(
    closed_tab: Tab, closed_site: ClosedSite
) -> None:
    tab = closed_tab
    tab.open("/ecarts")
    tab.page.fill("#cle-api", closed_site.tokens[FULL])
    assert tab.page.evaluate("sessionStorage.length") == 1
    tab.page.click("#cle-oublier")
    assert tab.page.input_value("#cle-api") == ""
    assert tab.page.evaluate("sessionStorage.length") == 0
    tab.assert_clean()


@pytest.mark.parametrize("path", ["/", "/fichier", "/ecarts"])
def test_axe_finds_no_serious_violation_with_the_key_field(closed_tab: Tab, path: str) -> None:
    closed_tab.open(path)
    closed_tab.page.evaluate(AXE.read_text(encoding="utf-8"))
    result = closed_tab.page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))})))"
    )
    assert result == []
    assert only_refusals(closed_tab.errors, 401)  # the map's layer, asked without a key
