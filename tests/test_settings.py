"""Settings: relative paths resolve against QPV_HOME, never the current folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import PROJECT_ROOT, Settings


def test_relative_paths_resolve_against_the_project_root_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("QPV_HOME", "QPV_DATABASE_URL", "QPV_DATA_DIR", "QPV_DOWNLOAD_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.home == PROJECT_ROOT
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'qpv.sqlite3'}"
    assert settings.download_dir == PROJECT_ROOT / "var" / "downloads"
    assert settings.data_dir == PROJECT_ROOT / ".." / "shared" / "geodata"


def test_qpv_home_is_the_base_of_every_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QPV_DATABASE_URL", raising=False)
    monkeypatch.setenv("QPV_HOME", str(tmp_path))
    monkeypatch.setenv("QPV_METRICS_DIR", "metrics")
    monkeypatch.setenv("QPV_SOURCES_MANIFEST", "sources.json")
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'qpv.sqlite3'}"
    assert settings.metrics_dir == tmp_path / "metrics"
    assert settings.sources_manifest == tmp_path / "sources.json"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////srv/qpv/qpv.sqlite3",
        "sqlite:///:memory:",
        "postgresql+psycopg://qpv:secret@db:5432/qpv",
    ],
)
def test_absolute_and_server_urls_are_kept(url: str, tmp_path: Path) -> None:
    assert Settings(database_url=url, home=tmp_path).database_url == url


def test_absolute_folders_are_kept(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, data_dir=Path("/data"), download_dir=Path("/cache"))
    assert (settings.data_dir, settings.download_dir) == (Path("/data"), Path("/cache"))
