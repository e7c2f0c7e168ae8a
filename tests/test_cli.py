"""The ``qpv`` command: exit codes and messages a shell script can rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import QPV2015_SHP


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("QPV_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    return url


def test_importing_a_file_twice_reports_both_outcomes(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "import", str(QPV2015_SHP)]) == 0
    assert main(["data", "import", str(QPV2015_SHP), "--geography", "2015"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("imported: QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp")
    assert "1514 QPV" in out[0]
    assert out[1].startswith("already imported:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "import", "/nonexistent.geojson"], "does not exist"),
        (["data", "import", str(QPV2015_SHP), "--geography", "2024"], "2024 format"),
    ],
)
def test_a_refused_import_exits_2_with_the_reason(
    database: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("qpv: error:") and message in err


def test_sync_offline_imports_the_divisions_and_both_geographies_then_nothing(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QPV_DATA_DIR", str(QPV2015_SHP.parents[1]))
    assert main(["data", "sync", "--offline"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["imported"] * 3
    assert "administrative divisions, 37590 communes" in out[0]
    assert "geography 2024, 1584 QPV" in out[1] and "geography 2015, 1514 QPV" in out[2]
    assert main(["data", "sync", "--offline"]) == 0
    again = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in again] == ["already imported"] * 3


def test_sync_offline_without_files_says_what_is_missing(
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QPV_DATA_DIR", str(tmp_path / "empty"))
    assert main(["data", "sync", "--offline"]) == 1
    out = capsys.readouterr().out
    assert out.count("missing:") == 3 and "no administrative divisions" in out


def test_setup_against_a_database_that_does_not_answer_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", "postgresql+psycopg://postgres:secret@127.0.0.1:9/qpv")
    assert main(["setup", "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qpv: error: could not create or migrate the database")
    assert "secret" not in err and err.count("\n") == 1
