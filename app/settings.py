"""Service settings, read from the environment (prefix ``QPV_``) and an optional ``.env``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every tunable of the service; build one per process and pass it down."""

    model_config = SettingsConfigDict(env_prefix="QPV_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/qpv.sqlite3",
        description="SQLAlchemy URL: a SQLite file (embedded default) or postgresql+psycopg://",
    )
    data_dir: Path = Field(
        default=Path("../shared/geodata"),
        description="Folder searched for the official QPV and BAN files before downloading",
    )
    download_dir: Path = Field(
        default=Path("var/downloads"), description="Where downloaded official files are cached"
    )
    sources_manifest: Path | None = Field(
        default=None, description="Manifest of official sources; default: the packaged one"
    )
    # The 2024 reference file is rounded to about 11 m; answers closer than this to a
    # boundary are flagged rather than asserted.
    boundary_tolerance_m: float = Field(default=15.0, ge=0, le=1000)
    max_page_size: int = Field(default=500, ge=1)
    log_level: str = "INFO"
