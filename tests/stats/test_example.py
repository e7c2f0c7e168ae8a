"""The synthetic admissions file: realistic columns, a fair share in QPV, the gap recovered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.addresses import AddressResolver
from app.batch import Tagger, TagOptions
from app.geocoding.local import LocalGeocoder
from app.settings import Settings
from app.spatial.geography import Geography
from app.spatial.index import QpvIndex
from app.stats import example, service
from app.stats.gaps import analyse
from app.stats.indicators import Analysis, BinaryRate, CategoricalShares


def test_the_file_has_the_columns_of_an_admissions_extract(admissions: example.Example) -> None:
    rows = admissions.rows
    assert list(rows.columns) == [
        "id", "adresse", "code_postal", "commune", "sexe", "pcs", "academie", "voeu", "admis",
    ]  # fmt: skip
    assert len(rows) == 20_000 and rows["id"].is_unique
    assert set(rows["academie"]) == {"Paris", "Créteil"}
    assert set(rows["admis"]) == {"oui", "non"}
    assert rows["code_postal"].str.fullmatch(r"\d{5}").all()


def test_a_fair_share_of_applicants_live_in_a_qpv(admissions: example.Example) -> None:
    inside = admissions.truth["qpv_code"].notna()
    assert 0.30 < inside.mean() < 0.40
    assert set(admissions.truth["qpv_status"]) <= {"in", "out", "near_boundary", "not_found"}
    codes = admissions.truth["qpv_code"].dropna()
    assert codes.str.fullmatch(r"QN\d{5}[MINC]").all()


@pytest.mark.parametrize("sexe", ["F", "M"])
def test_the_analysis_recovers_the_gap_put_in_within_its_interval(
    admissions: example.Example, sexe: str
) -> None:
    tagged = example.tagged_file(admissions)
    report = analyse(tagged, Analysis(BinaryRate("admis"), by=("sexe",)))
    row = report.table[report.table["sexe"] == sexe].iloc[0]
    assert row["ecart_bas"] <= example.GAP_POINTS[sexe] <= row["ecart_haut"]
    assert row["ecart_haut"] - row["ecart_bas"] < 6  # informative, not a vacuous interval


def test_pcs_defavorisee_is_more_frequent_in_qpv(admissions: example.Example) -> None:
    report = analyse(example.tagged_file(admissions), Analysis(CategoricalShares("pcs")))
    row = report.table[report.table["categorie"] == "défavorisée"].iloc[0]
    assert row["ecart_bas"] > 20  # drawn at 55 % vs 22 %


def test_the_same_seed_draws_the_same_file(qpv_index: QpvIndex) -> None:
    ban = pd.DataFrame(
        {
            "numero": [1, 2, 3, 4],
            "rep": [None, "bis", None, None],
            "nom_voie": ["Rue Polonceau", "Rue Polonceau", "Rue de Rivoli", "Rue de Rivoli"],
            "code_postal": ["75018", "75018", "75001", "75001"],
            "code_insee": ["75118", "75118", "75101", "75101"],
            "nom_commune": ["Paris"] * 4,
            "lon": [2.35313, 2.35320, 2.33750, 2.33760],
            "lat": [48.88699, 48.88700, 48.86070, 48.86080],
        }
    )
    first = example.admissions(ban, qpv_index, rows=50, seed=7)
    again = example.admissions(ban, qpv_index, rows=50, seed=7)
    pd.testing.assert_frame_equal(first.rows, again.rows)
    assert np.array_equal(first.truth["qpv_status"], again.truth["qpv_status"])


def test_the_gap_is_recovered_after_geocoding_the_addresses_with_the_batch_pipeline(
    admissions: example.Example, qpv_index: QpvIndex, local_geocoder: LocalGeocoder, tmp_path: Path
) -> None:
    settings = Settings(geocoders=["local"])
    resolver = AddressResolver(qpv_index, {"local": local_geocoder}, settings)
    raw = tmp_path / "admissions.csv"
    admissions.rows.to_csv(raw, index=False)
    options = TagOptions(columns=("adresse",), postcode="code_postal", geography=Geography.QPV2024)
    analysis = Analysis(BinaryRate("admis"), by=("sexe",))
    tag = service.batch_tag(Tagger(qpv_index, resolver, settings), options)
    table, tagging = service.load_input(raw, analysis, tag)
    report = service.report_of(table, analysis, tagging)
    for sexe, gap in example.GAP_POINTS.items():
        row = report.table[report.table["sexe"] == sexe].iloc[0]
        assert row["ecart_bas"] <= gap <= row["ecart_haut"]
    assert report.provenance["qpv_dataset_version"] == ["2024 : 4fc7cc183111"]
