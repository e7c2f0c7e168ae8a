"""docker-compose.yml: valid against the Compose specification, and the intended topology.

The schema is the one vendored by check-jsonschema (pinned in the dev extra): no network.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# Read by `qpv serve` itself, not settings.
NOT_SETTINGS = {"QPV_HOST", "QPV_PORT", "QPV_WORKERS"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file, YAML anchors and merge keys resolved."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, from the installed check-jsonschema."""
    vendor = files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def test_the_compose_file_is_valid_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    schema = compose_schema()
    assert "compose" in schema.get("title", schema.get("$id", "")).lower()
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert [e.message for e in validator.iter_errors(compose)] == []


def test_the_schema_catches_a_broken_file(compose: dict[str, Any]) -> None:
    schema = compose_schema()
    broken = compose | {"services": compose["services"] | {"api1": {"ports": "8080"}}}
    assert not jsonschema.validators.validator_for(schema)(schema).is_valid(broken)


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def test_it_runs_postgis_a_migrate_step_two_replicas_a_proxy_a_worker_and_redis(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["db"]["image"].startswith("postgis/postgis:")
    assert services["redis"]["image"].startswith("redis:")
    migrate = services["migrate"]
    assert _command(migrate) == "qpv setup"  # schema, divisions, QPV, geocoder: as `make run`
    assert migrate["restart"] == "no"
    replicas = [s for s in services.values() if _command(s).startswith("qpv serve")]
    assert len(replicas) >= 2
    for replica in replicas:
        assert replica["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert _command(services["worker"]) == "qpv worker"
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    upstreams = re.findall(r"server (\w+):8000", (ROOT / "deploy" / "nginx.conf").read_text())
    assert sorted(upstreams) == sorted(n for n, s in services.items() if s in replicas)


def test_images_are_pinned_and_volumes_named(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" not in service:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in compose["volumes"] or source == "./deploy/nginx.conf", volume


def test_every_setting_comes_from_the_environment_and_names_a_real_setting(
    compose: dict[str, Any],
) -> None:
    fields = {f"QPV_{name.upper()}" for name in Settings.model_fields}
    text = (ROOT / "docker-compose.yml").read_text()
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?" in text  # no password in the file
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        for key in environment:
            if key.startswith("QPV_"):
                assert key in fields | NOT_SETTINGS, f"{name}: {key} is no setting"


def test_every_variable_of_the_example_environment_is_used_by_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    example = (ROOT / "deploy" / "env.example").read_text().splitlines()
    names = [line.split("=", 1)[0] for line in example if line and not line.startswith("#")]
    assert names
    assert [n for n in names if "${" + n not in text] == []
