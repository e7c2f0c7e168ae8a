"""``/v1/qpv``, ``/v1/qpv/{code}``, ``/v1/datasets`` and the probes."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.spatial.geography import Geography

BONDY_2015 = {"QP093012", "QP093013", "QP093014"}
BONDY_2024 = {"QN09312I", "QN09313I", "QN09314M"}


def test_quartiers_are_listed_by_departement_with_pagination(client: TestClient) -> None:
    first = client.get("/v1/qpv", params={"departement": "93", "limit": 10}).json()
    second = client.get("/v1/qpv", params={"departement": "93", "limit": 10, "offset": 10}).json()
    assert first["geography"] == "2024" and first["total"] == second["total"] > 20
    assert len(first["items"]) == 10
    codes = [q["code"] for q in first["items"] + second["items"]]
    assert len(set(codes)) == 20 and all(c.startswith("QN093") for c in codes)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"geography": "2015", "commune": "bondy"}, BONDY_2015),
        ({"geography": "2015", "name": "goutte d'or"}, {"QP075012"}),
        ({"name": "GOUTTE D'OR"}, {"QN07511M"}),
        ({"commune": "93010"}, BONDY_2024),
        ({"commune": "75118", "name": "goutte"}, {"QN07511M"}),
        # 2024: the file gives INSEE codes only; the administrative divisions name them.
        ({"commune": "Bondy"}, BONDY_2024),
        ({"commune": "bondy", "geography": "2024"}, BONDY_2024),
        ({"commune": "Paris 18e Arrondissement", "name": "goutte"}, {"QN07511M"}),
        # Pierrefitte-sur-Seine (93059) merged into Saint-Denis (93066) in 2025.
        ({"commune": "pierrefitte", "name": "joncherolles"}, {"QN09336I"}),
        ({"commune": "93066", "name": "joncherolles"}, {"QN09336I"}),
        ({"commune": "93059", "name": "joncherolles"}, {"QN09336I"}),
        # Cordieux (01120) is a commune associated with Montluel (01262).
        ({"commune": "01120"}, {"QN00107M"}),
    ],
)
def test_quartiers_are_filtered_by_commune_and_name(
    client: TestClient, params: dict[str, str], expected: set[str]
) -> None:
    body = client.get("/v1/qpv", params=params | {"limit": 100}).json()
    assert {q["code"] for q in body["items"]} == expected


def test_a_quartier_is_a_geojson_feature(client: TestClient) -> None:
    response = client.get("/v1/qpv/QN07511M")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == "QN07511M"
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["geography"] == "2024"
    assert feature["properties"]["name"] == "Goutte D'Or"
    assert feature["properties"]["communes"] == ["Paris"]


def test_a_2024_quartier_names_its_communes_from_the_administrative_divisions(
    client: TestClient,
) -> None:
    properties = client.get("/v1/qpv/QN09313I").json()["properties"]
    assert properties["communes"] == ["Bondy", "Villemomble"]
    assert properties["insee_codes"] == ["93010", "93077"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/qpv/QN07599M", 404),
        ("/v1/qpv/QP095999", 404),
        ("/v1/qpv/XYZ", 422),
        ("/v1/qpv?limit=100000", 422),
        ("/v1/qpv?departement=ABC", 422),
        ("/v2/nothing", 404),
    ],
)
def test_unknown_or_malformed_requests_are_problems(
    client: TestClient, path: str, status: int
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_datasets_show_provenance_and_what_is_in_use(client: TestClient) -> None:
    datasets = client.get("/v1/datasets").json()
    assert {
        (d["geography"], d["feature_count"], d["in_use"], d["state"], d["member"]) for d in datasets
    } == {("2015", 1514, True, "current", ""), ("2024", 1584, True, "current", "")}
    assert all(len(d["sha256"]) == 64 for d in datasets)


def _vertices(geometry: dict[str, Any]) -> int:
    return int(shapely.get_num_coordinates(shapely.geometry.shape(geometry)))


def test_a_geometry_is_simplified_on_request_within_the_metres_asked(client: TestClient) -> None:
    exact = client.get("/v1/qpv/QN07511M").json()["geometry"]
    response = client.get("/v1/qpv/QN07511M", params={"simplify": 20})
    assert response.status_code == 200
    simplified = response.json()["geometry"]
    assert simplified["type"] == "MultiPolygon"
    assert 4 <= _vertices(simplified) < _vertices(exact)
    distance = shapely.hausdorff_distance(
        shapely.geometry.shape(exact), shapely.geometry.shape(simplified)
    )
    assert distance <= 20 / 111_320


def test_a_geometry_answer_is_serialised_once_per_dataset(sqlite_client: TestClient) -> None:
    first = sqlite_client.get("/v1/qpv/QN09312I", params={"simplify": 5})
    second = sqlite_client.get("/v1/qpv/QN09312I", params={"simplify": 5})
    assert first.content == second.content
    geo = sqlite_client.app.state.index.geographies[Geography.QPV2024]  # type: ignore[attr-defined]
    assert geo.served.get(("QN09312I", 5.0)) == first.content


@pytest.mark.parametrize("simplify", ["-1", "nan", "inf", "10001", "abc"])
def test_a_bad_simplification_is_a_422_problem(sqlite_client: TestClient, simplify: str) -> None:
    response = sqlite_client.get("/v1/qpv/QN07511M", params={"simplify": simplify})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_geometry_past_the_vertex_limit_is_a_413_that_asks_for_simplify(
    loaded_sqlite_url: str,
) -> None:
    settings = Settings(database_url=loaded_sqlite_url, geocoders=[], geometry_max_vertices=20)
    with TestClient(create_app(settings)) as small:
        response = small.get("/v1/qpv/QN07511M")
        simplified = small.get("/v1/qpv/QN07511M", params={"simplify": 200})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("the geometry of QN07511M has ")
    assert response.json()["detail"].endswith(
        "vertices, past this server's limit of 20; ask for a simplified one with ?simplify=METRES"
    )
    assert simplified.status_code == 200
    assert _vertices(simplified.json()["geometry"]) <= 20


def test_probes_report_live_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
    checks = ready.json()["checks"]
    assert set(checks) == {
        *("index", "database", "qpv2015", "qpv2024", "divisions"),
        *("data", "generation", "process"),
    }
    assert checks["divisions"] == "c189ffd5b33f"
    assert checks["data"] == "ok"  # answering from the database's current data


def test_an_empty_database_is_live_but_not_ready(sqlite_url: str) -> None:
    from app.main import create_app
    from app.settings import Settings

    with TestClient(create_app(Settings(database_url=sqlite_url, geocoders=[]))) as empty:
        assert empty.get("/healthz").status_code == 200
        assert empty.get("/readyz").status_code == 503
        response = empty.get("/v1/point", params={"lat": 48.8, "lon": 2.3})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/v1/qpv/QN07511M", "GET"),
        ("PATCH", "/v1/jobs/someid", "DELETE, GET"),  # two routes on one path
        ("OPTIONS", "/v1/admin/keys", "GET, POST"),
    ],
)
def test_a_wrong_method_is_a_405_problem_allowing_every_method_of_the_path(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == allow


def test_openapi_documents_the_problem_shape_and_point_parameters(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    point = spec["paths"]["/v1/point"]["get"]
    assert {p["name"] for p in point["parameters"]} >= {"lat", "lon", "x", "y", "geography"}
    assert "$ref" not in str(point["parameters"])
    assert "application/problem+json" in point["responses"]["422"]["content"]


@pytest.fixture(scope="module")
def qpv2024_only_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with the 2024 geography only: no divisions, no offline geocoder."""
    from app.data.importer import import_qpv_file
    from app.db.migrate import upgrade
    from app.db.session import make_engine
    from tests.conftest import QPV2024_GEOJSON

    url = f"sqlite:///{tmp_path_factory.mktemp('partial') / 'qpv.sqlite3'}"
    upgrade(url)
    import_qpv_file(make_engine(url), QPV2024_GEOJSON)
    return url


def test_without_administrative_divisions_the_service_still_serves_and_says_so(
    qpv2024_only_url: str,
) -> None:
    from app.main import create_app
    from app.settings import Settings

    with TestClient(create_app(Settings(database_url=qpv2024_only_url, geocoders=[]))) as app:
        ready = app.get("/readyz")
        quartier = app.get("/v1/qpv/QN09313I").json()["properties"]
    assert ready.status_code == 200 and ready.json()["checks"]["divisions"] == "absent"
    assert quartier["communes"] == [] and quartier["insee_codes"] == ["93010", "93077"]


def test_a_configured_geocoder_without_data_makes_the_service_not_ready(
    qpv2024_only_url: str,
) -> None:
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(database_url=qpv2024_only_url, geocoders=["local"])
    with TestClient(create_app(settings)) as app:
        response = app.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "local" in response.json()["detail"] and "qpv setup" in response.json()["detail"]
