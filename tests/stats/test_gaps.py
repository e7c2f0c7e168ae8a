"""The gap analysis on fixed tagged tables, checked against direct pandas/scipy computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from app.errors import MissingColumns, UnexpectedValues
from app.stats.gaps import analyse
from app.stats.indicators import Analysis, BinaryRate, CategoricalShares, RatioOfSums
from app.stats.sides import UNCERTAIN_STATUSES


def tagged(rows: list[tuple[str, str, str, str]], code_near: bool = False) -> pd.DataFrame:
    """(status, academie, sexe, admis) rows as a batch output; in rows carry a QPV code."""
    frame = pd.DataFrame(rows, columns=["qpv_status", "academie", "sexe", "admis"])
    inside = (frame["qpv_status"] == "in") | ((frame["qpv_status"] == "near_boundary") & code_near)
    frame["qpv_code"] = np.where(inside, "QN07511M", "")
    frame["qpv_geography"] = "2024"
    return frame


def random_table(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    status = rng.choice(["in", "out", "commune_without_qpv", *UNCERTAIN_STATUSES], n)
    frame = pd.DataFrame(
        {
            "qpv_status": status,
            "academie": rng.choice(["Créteil", "Paris", "Versailles"], n, p=[0.45, 0.45, 0.1]),
            "sexe": rng.choice(["F", "M"], n),
            "admis": rng.choice(["oui", "non"], n, p=[0.6, 0.4]),
        }
    )
    frame["qpv_code"] = np.where(
        (status == "in") | ((status == "near_boundary") & (rng.random(n) < 0.5)), "QN1", ""
    )
    return frame


def line(report_table: pd.DataFrame, **keys: str) -> pd.Series:
    mask = np.ones(len(report_table), dtype=bool)
    for column, value in keys.items():
        mask &= report_table[column] == value
    assert mask.sum() == 1, keys
    return report_table[mask].iloc[0]


def test_counts_and_rates_per_cell_equal_a_pandas_groupby() -> None:
    frame = random_table(1)
    report = analyse(frame, Analysis(BinaryRate("admis"), by=("academie", "sexe"), threshold=1))
    side = frame["qpv_status"].map({"in": "qpv", "out": "hors", "commune_without_qpv": "hors"})
    expected = (
        frame.assign(side=side, y=frame["admis"] == "oui")
        .dropna(subset=["side"])
        .groupby(["academie", "sexe", "side"])["y"]
        .agg(["size", "sum"])
    )
    cells = report.table[report.table["level"] == "cellule"]
    assert len(cells) == 6
    for _, row in cells.iterrows():
        for side_name, suffix in (("qpv", "qpv"), ("hors", "hors_qpv")):
            size, positives = expected.loc[(row["academie"], row["sexe"], side_name)]
            assert row[f"n_{suffix}"] == size and row[f"x_{suffix}"] == positives
            assert row[f"valeur_{suffix}"] == pytest.approx(positives / size)
        table = [
            [row["x_qpv"], row["n_qpv"] - row["x_qpv"]],
            [row["x_hors_qpv"], row["n_hors_qpv"] - row["x_hors_qpv"]],
        ]
        assert row["p_valeur"] == pytest.approx(
            sps.chi2_contingency(table, correction=False).pvalue
        )
        assert row["ecart"] == pytest.approx(100 * (row["valeur_qpv"] - row["valeur_hors_qpv"]))


def test_margins_and_the_overall_line_add_up_the_cells() -> None:
    report = analyse(
        random_table(2), Analysis(BinaryRate("admis"), by=("academie", "sexe"), threshold=1)
    )
    t = report.table
    cells = t[t["level"] == "cellule"]
    overall = line(t, level="ensemble")
    assert (
        overall["n_qpv"] == cells["n_qpv"].sum()
        and overall["x_hors_qpv"] == cells["x_hors_qpv"].sum()
    )
    paris = line(t, level="marge academie", academie="Paris")
    assert paris["n_hors_qpv"] == cells[cells["academie"] == "Paris"]["n_hors_qpv"].sum()
    assert paris["n_incertain"] == cells[cells["academie"] == "Paris"]["n_incertain"].sum()


def test_the_sensitivity_scenarios_move_exactly_the_uncertain_rows() -> None:
    frame = random_table(3)
    report = analyse(frame, Analysis(BinaryRate("admis"), threshold=1))
    s = report.sensitivity.set_index("scenario")
    counts = frame["qpv_status"].value_counts()
    uncertain = int(counts[list(UNCERTAIN_STATUSES)].sum())
    n_in, n_out = counts["in"], counts["out"] + counts["commune_without_qpv"]
    assert (s.loc["excluded", "n_qpv"], s.loc["excluded", "n_hors_qpv"]) == (n_in, n_out)
    assert (s.loc["all_qpv", "n_qpv"], s.loc["all_qpv", "n_hors_qpv"]) == (n_in + uncertain, n_out)
    assert (s.loc["all_hors_qpv", "n_qpv"], s.loc["all_hors_qpv", "n_hors_qpv"]) == (
        n_in,
        n_out + uncertain,
    )
    near = frame[frame["qpv_status"] == "near_boundary"]
    near_in = int((near["qpv_code"] != "").sum())
    assert s.loc["near_boundary_by_side", "n_qpv"] == n_in + near_in
    assert s.loc["near_boundary_by_side", "n_hors_qpv"] == n_out + len(near) - near_in
    statuses = report.statuses.set_index("statut")["lignes"]
    assert statuses["near_boundary_qpv"] == near_in and statuses.sum() == len(frame)


def test_a_group_without_qpv_rows_has_counts_but_no_gap() -> None:
    rows = (
        [("out", "Paris", "F", "oui")] * 20
        + [("in", "Créteil", "F", "oui")] * 15
        + [("out", "Créteil", "F", "non")] * 15
    )
    report = analyse(tagged(rows), Analysis(BinaryRate("admis"), by=("academie",), threshold=1))
    paris = line(report.table, academie="Paris")
    assert paris["n_qpv"] == 0 and paris["n_hors_qpv"] == 20
    assert np.isnan(paris["ecart"]) and np.isnan(paris["p_valeur"])
    creteil = line(report.table, academie="Créteil")
    assert creteil["ecart"] == pytest.approx(100.0) and creteil["valeur_qpv"] == 1.0


def test_rates_of_0_and_1_give_a_gap_of_100_points_with_newcombes_interval() -> None:
    rows = [("in", "A", "F", "non")] * 10 + [("out", "A", "F", "oui")] * 20
    analysis = Analysis(BinaryRate("admis"), threshold=1)
    row = line(analyse(tagged(rows), analysis).table, level="ensemble")
    assert (row["valeur_qpv"], row["valeur_hors_qpv"], row["ecart"]) == (0.0, 1.0, -100.0)
    # Newcombe (1998) Table II, 10/10 vs 0/20: 0.6791 to 1 (here with the sides swapped).
    assert row["ecart_bas"] == pytest.approx(-100.0) and row["ecart_haut"] == pytest.approx(
        -67.91, abs=0.01
    )


def test_a_single_record_is_suppressed_and_nothing_fails() -> None:
    report = analyse(tagged([("in", "A", "F", "oui")]), Analysis(BinaryRate("admis"), by=("sexe",)))
    assert report.table["n_qpv"].isna().all() and report.table["ecart"].isna().all()
    assert report.suppression["primaires"] >= 1
    assert (report.sensitivity["secret"] != "").all()


def test_when_every_cell_is_small_every_cell_is_suppressed() -> None:
    rows = [(s, a, x, "oui") for s in ("in", "out") for a in ("A", "B", "C") for x in ("F", "M")]
    report = analyse(tagged(rows), Analysis(BinaryRate("admis"), by=("academie", "sexe")))
    t = report.table
    assert t["n_qpv"].isna().all() and t["n_hors_qpv"].isna().all() and t["ecart"].isna().all()
    assert (t["secret"] != "").all()
    assert report.suppression["primaires"] == 2 * (6 + 3 + 2 + 1)  # cells, margins, total
    assert report.statuses["lignes"].isna().sum() == 2  # 6 in, 6 out: both below 11


def test_a_suppressed_cell_cannot_be_recomputed_from_its_margin() -> None:
    rows = (
        [("in", "A", "F", "oui")] * 5
        + [("in", "A", "M", "oui")] * 30
        + [("in", "B", "F", "non")] * 40
        + [("in", "B", "M", "non")] * 40
    )
    rows += [("out", a, x, "oui") for a in ("A", "B") for x in ("F", "M")] * 50
    t = analyse(tagged(rows), Analysis(BinaryRate("admis"), by=("academie", "sexe"))).table
    hidden = t[t["n_qpv"].isna()]
    assert len(hidden) >= 3  # A-F (5 records) and enough others to protect it
    assert "qpv: moins de seuil" in line(t, academie="A", sexe="F")["secret"]
    assert any("qpv: secondaire" in s for s in hidden["secret"])


@pytest.mark.parametrize(
    ("values", "positive", "named"),
    [
        (["oui", "non", "peut-être"], (), "'peut-être'"),
        (["admis", "refusé", "liste d'attente"], ("admis",), '"liste d\'attente"'),
    ],
)
def test_unexpected_outcome_values_are_an_error_naming_them(
    values: list[str], positive: tuple[str, ...], named: str
) -> None:
    rows = [("in", "A", "F", v) for v in values] * 5
    with pytest.raises(UnexpectedValues) as caught:
        analyse(tagged(rows), Analysis(BinaryRate("admis", positive=positive)))
    assert named in caught.value.detail and "admis" in caught.value.detail


def test_configured_positive_values_are_read_whatever_their_case() -> None:
    rows = (
        [("in", "A", "F", "Admis")] * 12
        + [("out", "A", "F", "REFUSÉ")] * 12
        + [("out", "A", "F", "")] * 3
    )
    report = analyse(tagged(rows), Analysis(BinaryRate("admis", positive=("admis",))))
    row = line(report.table, level="ensemble")
    assert (row["valeur_qpv"], row["valeur_hors_qpv"], row["n_hors_qpv"]) == (1.0, 0.0, 12)
    assert report.notes[0].startswith("3 ligne(s) sans valeur")


def test_an_unknown_status_and_a_missing_column_are_named() -> None:
    frame = tagged([("in", "A", "F", "oui")])
    frame.loc[0, "qpv_status"] = "maybe"
    with pytest.raises(UnexpectedValues, match="'maybe'"):
        analyse(frame, Analysis(BinaryRate("admis")))
    with pytest.raises(MissingColumns, match="'pcs'"):
        analyse(tagged([("in", "A", "F", "oui")]), Analysis(BinaryRate("admis"), by=("pcs",)))


def test_categorical_shares_sum_to_one_on_each_side() -> None:
    frame = random_table(4)
    report = analyse(frame, Analysis(CategoricalShares("academie"), by=("sexe",), threshold=1))
    overall = report.table[report.table["level"] == "ensemble"]
    assert sorted(overall["categorie"]) == ["Créteil", "Paris", "Versailles"]
    assert overall["valeur_qpv"].sum() == pytest.approx(1.0)
    assert overall["valeur_hors_qpv"].sum() == pytest.approx(1.0)
    paris = line(overall, categorie="Paris")
    in_rows = frame[frame["qpv_status"] == "in"]
    assert paris["valeur_qpv"] == pytest.approx((in_rows["academie"] == "Paris").mean())


def test_a_ratio_of_sums_is_the_sum_of_numerators_over_the_sum_of_denominators() -> None:
    frame = pd.DataFrame(
        {
            "qpv_status": ["in"] * 12 + ["out"] * 12,
            "qpv_code": ["QN1"] * 12 + [""] * 12,
            "eleves": [str(300 + i) for i in range(24)],
            "enseignants": ["20,5"] * 12 + ["22"] * 12,
        }
    )
    ind = RatioOfSums("eleves", "enseignants", resamples=300, seed=1)
    row = line(analyse(frame, Analysis(ind)).table, level="ensemble")
    assert row["valeur_qpv"] == pytest.approx(sum(range(300, 312)) / (12 * 20.5))
    assert row["valeur_hors_qpv"] == pytest.approx(sum(range(312, 324)) / (12 * 22))
    assert row["ecart_bas"] < row["ecart"] < row["ecart_haut"]


def test_a_reference_column_is_averaged_over_each_sides_rows() -> None:
    frame = tagged([("in", "A", "F", "oui")] * 20 + [("out", "A", "F", "non")] * 20)
    frame["taux_academie"] = ["0,5"] * 10 + ["70"] * 10 + ["0.6"] * 20
    row = line(
        analyse(frame, Analysis(BinaryRate("admis", reference="taux_academie"))).table,
        level="ensemble",
    )
    assert row["reference_qpv"] == pytest.approx(0.6) and row[
        "reference_hors_qpv"
    ] == pytest.approx(0.6)
    assert row["ecart_reference_qpv"] == pytest.approx(40.0)
    assert row["p_valeur_reference_qpv"] == pytest.approx(sps.binomtest(20, 20, 0.6).pvalue)
