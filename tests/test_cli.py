"""The ``qpv`` command: exit codes and messages a shell script can rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import BAN_BONDY, QPV2015_SHP


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


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """QPV_HOME in one folder, the current folder another one, the database URL relative."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("QPV_HOME", str(home))
    monkeypatch.setenv("QPV_DATABASE_URL", "sqlite:///var/qpv.sqlite3")
    monkeypatch.chdir(cwd)
    return home


@pytest.mark.parametrize(
    "args",
    [
        ["geocoder", "geocode", "12 bd de la Villette 75019 Paris"],
        ["geocoder", "import", str(BAN_BONDY)],
        ["data", "import", str(QPV2015_SHP)],
        ["data", "sync", "--offline"],
    ],
)
def test_a_missing_database_is_one_line_saying_what_to_run(
    elsewhere: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"qpv: error: no database at {elsewhere}/var/qpv.sqlite3: run 'qpv db upgrade'\n"
    assert not (elsewhere / "var").exists()
    assert list(Path.cwd().iterdir()) == []


def test_commands_run_from_another_folder_use_the_database_under_qpv_home(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert (elsewhere / "var" / "qpv.sqlite3").is_file()
    assert main(["geocoder", "geocode", "12 bd de la Villette 75019 Paris"]) == 1
    assert capsys.readouterr().out.startswith("# 0 streets, 0 addresses")
    assert list(Path.cwd().iterdir()) == []


def test_setup_against_a_database_that_does_not_answer_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QPV_DATABASE_URL", "postgresql+psycopg://postgres:secret@127.0.0.1:9/qpv")
    assert main(["setup", "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qpv: error: could not create or migrate the database")
    assert "secret" not in err and err.count("\n") == 1
