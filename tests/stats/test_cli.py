"""``qpv gaps`` and ``qpv example admissions`` as a shell script sees them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from app.cli import main
from app.stats import example


def test_gaps_writes_json_by_default_with_every_table(
    admissions_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gaps", str(admissions_csv), "--outcome", "admis", "--by", "academie,sexe"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["by"] == ["academie", "sexe"] and report["threshold"] == 11
    assert {r["level"] for r in report["rows"]} == {
        "ensemble", "marge academie", "marge sexe", "cellule",
    }  # fmt: skip
    assert len(report["rows"]) == 1 + 2 + 2 + 4
    assert len(report["sensitivity"]) == 4 * 9
    assert report["provenance"]["qpv_geography"] == ["2024"]
    assert report["provenance"]["qpv_dataset_version"] == ["4fc7cc183111"]


@pytest.mark.parametrize(("suffix", "starts"), [("csv", "level,academie"), ("html", "<!DOCTYPE")])
def test_gaps_picks_the_format_from_the_output_name(
    admissions_csv: Path, tmp_path: Path, suffix: str, starts: str
) -> None:
    out = tmp_path / f"report.{suffix}"
    args = ["gaps", str(admissions_csv), "--outcome", "admis", "--by", "academie", "-o", str(out)]
    assert main(args) == 0
    assert out.read_text(encoding="utf-8").startswith(starts)


def test_a_semicolon_windows_1252_file_with_a_reference_rate_is_read(
    admissions_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    french = tmp_path / "fr.csv"
    pd.read_csv(admissions_csv, dtype=str).to_csv(french, sep=";", encoding="cp1252", index=False)
    args = ["gaps", str(french), "--outcome", "admis", "--by", "academie", "--reference", "62%"]
    assert main([*args, "--format", "csv"]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert set(table["academie"]) == {"(ensemble)", "Créteil", "Paris"}
    assert (table["reference_qpv"] == 0.62).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outcome", "voeu"], "'Licence'"),
        (["--outcome", "admis", "--by", "region"], "'region'"),
        (["--outcome", "admis", "--shares", "pcs"], "exactly one indicator"),
        (["--ratio", "eleves"], "NUMERATOR/DENOMINATOR"),
        (["--outcome", "admis", "--reference", "150"], "reference"),
        (["--outcome", "admis", "--threshold", "0"], "threshold"),
    ],
)
def test_bad_parameters_exit_2_with_one_line_naming_them(
    admissions_csv: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["gaps", str(admissions_csv), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qpv: error:") and message in err and err.count("\n") == 1


def test_an_untagged_file_is_refused_with_the_reason(
    admissions: example.Example, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw.csv"
    admissions.rows.head(100).to_csv(raw, index=False)
    assert main(["gaps", str(raw), "--outcome", "admis"]) == 2
    assert "qpv_status" in capsys.readouterr().err


def test_example_admissions_writes_the_raw_or_the_tagged_file(
    loaded_sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", loaded_sqlite_url)
    out = tmp_path / "adm.csv"
    assert main(["example", "admissions", "-o", str(out), "--rows", "500", "--seed", "1"]) == 0
    assert "500 rows" in capsys.readouterr().out
    assert "qpv_status" not in pd.read_csv(out).columns
    assert main(["example", "admissions", "-o", str(out), "--rows", "500", "--tagged"]) == 0
    tagged = pd.read_csv(out)
    assert len(tagged) == 500 and {"qpv_status", "qpv_code", "qpv_geography"} <= set(tagged)


def test_a_raw_file_is_tagged_first_by_its_coordinates(
    admissions: example.Example,
    loaded_sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", loaded_sqlite_url)
    monkeypatch.setenv("QPV_GEOCODERS", "[]")
    raw = tmp_path / "raw.csv"
    pd.concat([admissions.rows, admissions.coordinates], axis=1).head(3000).to_csv(raw, index=False)
    args = ["gaps", str(raw), "--outcome", "admis", "--lat", "lat", "--lon", "lon"]
    assert main([*args, "--geography", "2024"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["provenance"]["qpv_dataset_version"] == ["2024 : 4fc7cc183111"]
    assert report["rows"][0]["n_qpv"] > 500
