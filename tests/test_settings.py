"""Settings: relative paths resolve against QPV_HOME, never the current folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

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


LIST_SETTINGS = {"QPV_GEOCODERS": "geocoders", "QPV_CORS_ORIGINS": "cors_origins"}


def _documented_forms() -> set[tuple[str, str]]:
    """(variable, value) of every list setting as the README and deploy/env.example write it."""
    root = PROJECT_ROOT
    text = (root / "README.md").read_text() + (root / "deploy" / "env.example").read_text()
    names = "|".join(LIST_SETTINGS)
    inline = re.findall(rf"\b({names})=([^`\s]*)", text)  # `QPV_GEOCODERS=local,ban`
    table = re.findall(rf"\| `({names})` \| `([^`]*)` \|", text)  # | `QPV_X` | `["local"]` |
    return set(inline) | set(table)


def test_the_readme_writes_list_settings_in_both_forms() -> None:
    values = {value for _, value in _documented_forms()}
    assert "local,ban" in values and '["local"]' in values


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        *[(name, value, None) for name, value in sorted(_documented_forms())],
        ("QPV_GEOCODERS", "local,ban", ["local", "ban"]),
        ("QPV_GEOCODERS", " local , ban ", ["local", "ban"]),
        ("QPV_GEOCODERS", '["local", "ban"]', ["local", "ban"]),
        ("QPV_GEOCODERS", "[]", []),
        ("QPV_CORS_ORIGINS", "https://a.example,https://b.example:8443", None),
        ("QPV_CORS_ORIGINS", "", []),
    ],
)
def test_list_settings_load_as_json_or_comma_separated_words(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: list[str] | None
) -> None:
    monkeypatch.setenv(name, value)
    loaded = getattr(Settings(_env_file=None), LIST_SETTINGS[name])  # type: ignore[call-arg]
    words = json.loads(value) if value.startswith("[") else [w.strip() for w in value.split(",")]
    assert loaded == (expected if expected is not None else [w for w in words if w])


def test_a_malformed_json_list_is_refused_with_the_forms_it_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QPV_GEOCODERS", '["local"')
    with pytest.raises(ValidationError, match="not a JSON list"):
        Settings(_env_file=None)  # type: ignore[call-arg]
