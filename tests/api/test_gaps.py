"""``POST /v1/gaps`` over a real HTTP client: formats, limits, and problems naming parameters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.spatial.geography import Geography
from app.spatial.index import QpvIndex
from app.spatial.tagging import tag_points
from app.stats import example


@pytest.fixture(scope="module")
def client(loaded_sqlite_url: str) -> Iterator[TestClient]:
    """The app with a 2 MB upload limit."""
    settings = Settings(
        database_url=loaded_sqlite_url, geocoders=[], gaps_max_upload_bytes=2_000_000
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def upload(admissions: example.Example, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("api") / "t.csv"
    example.tagged_file(admissions).head(5000).to_csv(path, index=False)
    return path.read_bytes()


def _post(client: TestClient, body: bytes, **form: str) -> object:
    return client.post("/v1/gaps", files={"data": ("t.csv", body, "text/csv")}, data=form)


def test_json_is_the_default_with_counts_gaps_and_intervals(
    client: TestClient, upload: bytes
) -> None:
    response = _post(client, upload, outcome="admis", by="sexe")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    rows = response.json()["rows"]
    assert [r["sexe"] for r in rows] == ["(ensemble)", "F", "M"]
    for r in rows:
        assert r["n_qpv"] > 100 and r["ecart_bas"] < r["ecart"] < r["ecart_haut"]


@pytest.mark.parametrize(
    ("fmt", "media", "starts"),
    [("csv", "text/csv", b"level,"), ("html", "text/html", b"<!DOCTYPE")],
)
def test_csv_and_html_on_request(
    client: TestClient, upload: bytes, fmt: str, media: str, starts: bytes
) -> None:
    response = _post(client, upload, outcome="admis", by="academie", format=fmt)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.content.startswith(starts)


def test_an_upload_past_the_limit_is_a_413_problem(client: TestClient) -> None:
    big = b"qpv_status,admis\n" + b"in,oui\n" * 400_000
    response = _post(client, big, outcome="admis")
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "2000000" in response.json()["detail"]


@pytest.mark.parametrize(
    ("form", "named"),
    [
        ({"outcome": "voeu"}, "'Licence'"),
        ({"outcome": "admis", "by": "region"}, "'region'"),
        ({"outcome": "admis", "ratio": "a/b"}, "exactly one indicator"),
        ({"ratio": "eleves"}, "ratio"),
        ({"outcome": "admis", "threshold": "0"}, "threshold"),
        ({"outcome": "admis", "format": "xml"}, "format"),
    ],
)
def test_bad_parameters_are_422_problems_naming_them(
    client: TestClient, upload: bytes, form: dict[str, str], named: str
) -> None:
    response = _post(client, upload, **form)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert named in response.json()["detail"]


def test_unexpected_values_are_listed_in_the_problem(client: TestClient, upload: bytes) -> None:
    body = _post(client, upload, outcome="voeu").json()
    assert body["column"] == "voeu" and "Licence" in body["values"]


def test_an_empty_upload_or_a_raw_file_without_options_is_a_422(
    client: TestClient, admissions: example.Example, tmp_path: Path
) -> None:
    assert _post(client, b"", outcome="admis").status_code == 422
    raw = tmp_path / "raw.csv"
    admissions.rows.head(50).to_csv(raw, index=False)
    response = _post(client, raw.read_bytes(), outcome="admis")
    assert response.status_code == 422
    assert response.json()["parameter"] == "columns"


def test_a_raw_file_is_tagged_first_with_the_batch_options(
    client: TestClient, admissions: example.Example, qpv_index: QpvIndex, tmp_path: Path
) -> None:
    raw = tmp_path / "raw.csv"
    with_points = pd.concat([admissions.rows, admissions.coordinates], axis=1).head(4000)
    with_points.to_csv(raw, index=False, sep=";")
    body = _post(client, raw.read_bytes(), outcome="admis", lat="lat", lon="lon", geography="2024")
    assert body.status_code == 200, body.text
    report = body.json()
    # The same points tagged directly by the spatial core give the same statuses.
    points = admissions.coordinates.head(4000)
    direct = tag_points(qpv_index, points["lon"], points["lat"], Geography.QPV2024, tolerance_m=15)
    truth = pd.Series(direct.status).value_counts()
    statuses = {s["statut"]: s["lignes"] for s in report["statuses"]}
    assert statuses["in"] == truth["in"] and statuses["out"] == truth["out"]
    assert report["provenance"]["qpv_dataset_version"] == ["2024 : 4fc7cc183111"]
    assert report["provenance"]["qpv_tagged_at"]


def test_a_job_id_and_a_file_together_are_refused(client: TestClient, upload: bytes) -> None:
    response = _post(client, upload, outcome="admis", job="0123")
    assert response.status_code == 422 and response.json()["parameter"] == "job"
