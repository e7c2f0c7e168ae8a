"""The offline geocoder's part of the sync: decided from the hashes the database holds."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select

from app.data.sync import ban_files, sync_ban
from app.db.models import BanAddress
from app.db.session import make_engine
from tests.conftest import BAN_BONDY


def _outcomes(url: str, folder: Path) -> list[str]:
    return [line.outcome for line in sync_ban(make_engine(url), folder)]


def test_ban_files_are_imported_once_then_only_checked(sqlite_url: str, tmp_path: Path) -> None:
    shutil.copy(BAN_BONDY, tmp_path / BAN_BONDY.name)
    (tmp_path / "notes.txt").write_text("not a BAN file")
    assert ban_files(tmp_path) == [tmp_path / BAN_BONDY.name]
    assert _outcomes(sqlite_url, tmp_path) == ["imported"]
    assert _outcomes(sqlite_url, tmp_path) == ["already imported"]


def test_a_new_file_imports_every_file_again_so_that_extracts_add_up(
    sqlite_url: str, tmp_path: Path
) -> None:
    shutil.copy(BAN_BONDY, tmp_path / BAN_BONDY.name)
    assert _outcomes(sqlite_url, tmp_path) == ["imported"]
    # Another extract of the same département (93) arrives beside it.
    (tmp_path / "adresses-93008-bobigny.csv").write_text(
        "id;numero;rep;nom_voie;code_postal;code_insee;nom_commune;lon;lat\n"
        "93008_0001_00001;1;;Rue Neuve;93000;93008;Bobigny;2.44;48.91\n",
        encoding="utf-8",
    )
    assert _outcomes(sqlite_url, tmp_path) == ["imported", "imported"]
    with make_engine(sqlite_url).connect() as conn:
        count = conn.scalar(select(func.count()).select_from(BanAddress))
    assert count == 8413 + 1


def test_without_ban_files_the_sync_says_what_is_missing(sqlite_url: str, tmp_path: Path) -> None:
    lines = list(sync_ban(make_engine(sqlite_url), tmp_path / "nothing"))
    assert [line.outcome for line in lines] == ["missing"]
    assert "address lookups need `ban`" in lines[0].text
