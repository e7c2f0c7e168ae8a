"""Service settings, read from the environment (prefix ``QPV_``) and an optional ``.env``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The folder holding the ``app`` package: the default base of relative paths.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _listed(value: object) -> object:
    """A list setting as written in the environment: a JSON list or comma-separated words."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text.startswith("["):
        return [word.strip() for word in text.split(",") if word.strip()]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f'not a JSON list ({exc}): write words,like,these or ["a","b"]') from None


# QPV_GEOCODERS=local,ban as the README writes it, or ["local","ban"] (pydantic-settings
# alone takes JSON only).
WordList = Annotated[list[str], NoDecode, BeforeValidator(_listed)]


class Settings(BaseSettings):
    """Every tunable of the service; build one per process and pass it down.

    Relative paths (folders, a SQLite file) resolve against ``home``, never the current folder.
    """

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
    geocoder_dir: Path = Field(
        default=Path("var/geocoder"),
        description="Offline geocoder tables mapped by every process, rebuilt from the database",
    )
    sources_manifest: Path | None = Field(
        default=None, description="Manifest of official sources; default: the packaged one"
    )
    # The 2024 reference file is rounded to about 11 m; answers closer than this to a
    # boundary are flagged rather than asserted.
    boundary_tolerance_m: float = Field(default=15.0, ge=0, le=1000)
    max_page_size: int = Field(default=500, ge=1)

    # Geocoding. Providers in order of preference; the first one is the default.
    geocoders: WordList = Field(default=["local"], description="enabled providers: local, ban")
    ban_url: str = Field(
        default="https://api-adresse.data.gouv.fr",
        description="Any BAN-compatible API: API Adresse, IGN Geoplateforme, a self-hosted addok",
    )
    ban_timeout_s: float = Field(default=5.0, gt=0)
    ban_max_retries: int = Field(default=3, ge=0)
    ban_rate_per_s: float = Field(default=40.0, gt=0, description="public API: 50/s per IP")
    ban_concurrency: int = Field(default=8, ge=1)
    ban_max_response_bytes: int = Field(
        default=32 << 20, ge=1024, description="larger BAN answers are refused (bad_response)"
    )
    geocoder_min_score: float = Field(default=0.5, ge=0, le=1)
    # Two best candidates closer in score than this, farther apart than the distance below,
    # make an answer ambiguous.
    ambiguity_score_margin: float = Field(default=0.05, ge=0, le=1)
    ambiguity_distance_m: float = Field(default=150.0, ge=0)
    # Batches: past these limits a request is refused with 413 (jobs take larger files).
    batch_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1, description="upload size")
    batch_max_rows: int = Field(default=2_000_000, ge=1, description="rows of POST /v1/batch/csv")
    batch_max_items: int = Field(default=10_000, ge=1, description="items of POST /v1/batch")
    log_level: str = "INFO"

    # Gap analysis. Cells with fewer records are not published (French official statistics
    # practise a threshold of 11); uploads past the size limit are refused with a 413.
    gaps_threshold: int = Field(default=11, ge=1)
    gaps_max_upload_bytes: int = Field(default=200 * 2**20, ge=1)

    # Jobs: a queue on Redis, files in a folder every API replica and worker can reach
    # (a shared volume in production), metadata in Redis beside the queue.
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis of the job queue and job records"
    )
    jobs_namespace: str = Field(
        default="qpv", pattern=r"^[A-Za-z0-9_.-]+$", description="prefix of every job key in Redis"
    )
    jobs_dir: Path = Field(
        default=Path("var/jobs"), description="uploaded inputs, chunks and results of jobs"
    )
    job_ttl_s: float = Field(
        default=86_400, gt=0, description="inputs and results are deleted this long after"
    )
    job_max_bytes: int = Field(default=2 << 30, ge=1, description="largest upload of a job")
    job_chunk_rows: int = Field(default=50_000, ge=1, description="rows a worker tags at a time")
    # A worker renews its lease on a chunk every third of this; a chunk whose worker died is
    # handed to another one after about lease + sweep seconds.
    job_lease_s: float = Field(default=30, gt=0)
    job_sweep_s: float = Field(default=10, gt=0, description="how often workers look for dead ones")
    job_max_tries: int = Field(default=3, ge=1, description="tries of a chunk before the job fails")

    # Deployment (issue 12).
    home: Path = Field(
        default=PROJECT_ROOT,
        description="QPV_HOME: base of every relative path in these settings",
    )
    metrics_dir: Path | None = Field(
        default=None,
        description="PROMETHEUS_MULTIPROC_DIR: shared by the workers of one server, emptied "
        "by `qpv serve` at start; unset: metrics of this process only",
    )
    access_log: bool = Field(default=True, description="one JSON line per request")
    request_timeout_s: float = Field(
        default=30.0, gt=0, description="time allowed to start an answer (504 past it)"
    )
    cors_origins: WordList = Field(default=[], description="CORS allowed origins; none: off")
    cache_max_age_s: int = Field(
        default=300, ge=0, description="Cache-Control max-age of /v1/qpv* and /v1/datasets"
    )
    # The web page's map: no basemap by default (works offline); an operator may name a
    # raster tile URL template, whose origin the page's CSP then allows for images.
    web_basemap_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s'\"]+/\S*\{z\}\S*$",
        description="raster tiles of the web map, e.g. https://tiles.example/{z}/{x}/{y}.png",
    )
    web_basemap_attribution: str = Field(default="", description="credit shown on the map")

    # Imports (issue 10): a QPV file past these limits is refused unless `--force` is given.
    # The changes are relative to the dataset in use of the same geography (0.1 = 10 %).
    import_max_vertices: int = Field(default=100_000, ge=4, description="vertices of one quartier")
    import_max_count_change: float = Field(
        default=0.1, ge=0, description="change in the number of QPV"
    )
    import_max_codes_gone: float = Field(
        default=0.1, ge=0, le=1, description="share of the codes in use absent from the new file"
    )
    import_max_area_change: float = Field(default=0.1, ge=0, description="change of the total area")
    import_max_quartier_area_change: float = Field(
        default=0.5, ge=0, description="area change of any quartier present in both"
    )
    # Geometry compared with the dataset in use (issue 21), in metres. Defaults from the data:
    # in the 2015 -> 2024 redrawing no quartier that left more than half of its old ground
    # moved its centroid farther than 1.1 km (those that moved farther, up to 4.9 km, grew
    # over their old ground); a re-export moves centroids by metres, all alike by no more than
    # half its rounding step.
    import_max_centroid_shift_m: float = Field(
        default=1500,
        gt=0,
        description="a quartier whose centroid moved farther, and that left more than "
        "QPV_IMPORT_MAX_OVERLAP_LOST of its old ground, is refused",
    )
    import_max_overlap_lost: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="share of the smaller of a quartier's old and new shapes outside the other",
    )
    import_max_common_shift_m: float = Field(
        default=15,
        gt=0,
        description="median displacement of every quartier (a CRS or datum mistake); the "
        "2015 -> 2024 redrawing's is 0.3 m, a 4-decimal re-rounding's at most 6.7 m",
    )
    import_pause_at: Literal["read", "compared", "written", "announced", "committed"] | None = (
        Field(
            default=None,
            description="fault injection for tests: an import stops at this step and waits "
            "to be killed",
        )
    )
    # GET /v1/qpv/{code}: a geometry past this many vertices is a 413 that asks for ?simplify=.
    geometry_max_vertices: int = Field(default=20_000, ge=4)

    # Access control and limits (issue 12): API keys with scopes, per-key rate limits in Redis.
    open_access: bool = Field(
        default=False,
        description="no API key needed, no rate limit: for the embedded default (make run) only",
    )
    api_key_secret: SecretStr | None = Field(
        default=None, description="server secret of the keys' HMAC-SHA256; needed unless open"
    )
    api_key_cache_s: float = Field(
        default=30, ge=0, description="a worker trusts a key it looked up this long (revocation)"
    )
    rate_limits: dict[str, int] = Field(
        default={"lookup": 6000, "batch": 60, "admin": 60},
        description="requests per minute per key and scope (burst: as many); 0: no limit",
    )
    rate_limit_timeout_s: float = Field(
        default=0.25, gt=0, description="Redis time allowed per check; past it, fail open"
    )
    reload_poll_s: float = Field(
        default=2.0, gt=0, description="how often each server worker checks the data generation"
    )

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        self.data_dir = self.home / self.data_dir.expanduser()
        self.download_dir = self.home / self.download_dir.expanduser()
        self.jobs_dir = self.home / self.jobs_dir.expanduser()
        self.geocoder_dir = self.home / self.geocoder_dir.expanduser()
        if self.sources_manifest is not None:
            self.sources_manifest = self.home / self.sources_manifest.expanduser()
        if self.metrics_dir is not None:
            self.metrics_dir = self.home / self.metrics_dir.expanduser()
        # sqlite:///relative/file.sqlite3 (sqlite:////absolute has a fourth slash).
        scheme, sep, rest = self.database_url.partition(":///")
        if scheme.split("+")[0] == "sqlite" and sep and rest and rest[0] not in "/:":
            path, mark, query = rest.partition("?")
            self.database_url = f"{scheme}:///{self.home / path}{mark}{query}"
        return self
