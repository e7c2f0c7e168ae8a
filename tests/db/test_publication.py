"""The data generation is published with the change it announces, and read with the data it
names; a change no generation announced is repaired by importing the same file again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.orm import Session

from app.cli import main
from app.data.divisions import import_divisions
from app.data.importer import import_qpv_file, use_dataset
from app.data.reader import read_qpv_file
from app.db import repositories
from app.db.migrate import alembic_config, upgrade
from app.db.publication import read_state
from app.db.session import make_engine
from app.spatial.records import DatasetInfo
from tests.conftest import DIVISIONS_TGZ, QPV2024_GEOJSON


def small_file(folder: Path, name: str) -> Path:
    """A file of the first three 2024 quartiers (imported in a second); each ``name`` spells
    the first one's name differently: the same quartiers, another file."""
    source = json.loads(QPV2024_GEOJSON.read_text(encoding="utf-8"))
    features = source["features"][:3]
    features[0]["properties"]["lib_qp"] += f" ({name})"
    path = folder / name
    path.write_text(json.dumps({**source, "features": features}))
    return path


def test_each_import_publishes_its_data_with_the_generation_that_announces_it(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    assert read_state(engine).key == "divisions=0" and read_state(engine).generation == 0
    first = import_qpv_file(engine, small_file(tmp_path, "one.geojson"))
    divisions = import_divisions(engine, DIVISIONS_TGZ)
    state = read_state(engine)
    assert (first.generation, state.generation) == (1, 2)
    assert state.key == state.announced == "qpv2024=1,divisions=1"
    assert state.versions() == {first.geography: first.dataset.version}
    assert divisions.created

    second = import_qpv_file(engine, small_file(tmp_path, "two.geojson"))
    assert (second.generation, read_state(engine).key) == (3, "qpv2024=2,divisions=1")
    dataset, generation = use_dataset(engine, first.dataset_id)  # qpv data use
    assert (dataset.state, generation) == ("current", 4)
    again = import_qpv_file(engine, small_file(tmp_path, "two.geojson"))  # the undo's undo
    assert (again.outcome, again.generation) == ("made current", 5)
    assert read_state(engine).is_announced
    engine.dispose()


def commit_unannounced(url: str, path: Path) -> DatasetInfo:
    """What an import killed between its commit and its bump left, before issue 21."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        dataset = repositories.add_dataset(session, read_qpv_file(path))
    engine.dispose()
    return dataset


def test_importing_the_current_file_again_announces_it_when_no_generation_did(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = make_engine(database_url)
    import_qpv_file(engine, small_file(tmp_path, "one.geojson"))
    two = small_file(tmp_path, "two.geojson")
    commit_unannounced(database_url, two)
    state = read_state(engine)
    assert (state.generation, state.key, state.is_announced) == (1, "qpv2024=2,divisions=0", False)

    monkeypatch.setenv("QPV_DATABASE_URL", database_url)
    assert main(["data", "import", str(two)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "already imported: two.geojson -> dataset 2 (current), geography 2024, 3 QPV "
        f"(3 geometries repaired), sha256 {state.datasets[0].sha256[:12]}, data generation 2"
    )
    assert read_state(engine).is_announced
    assert import_qpv_file(engine, two).generation is None  # nothing left to repair
    assert read_state(engine).generation == 2
    engine.dispose()


def test_a_database_migrated_from_0006_announces_its_data_at_the_next_import(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    one = small_file(tmp_path, "one.geojson")
    import_qpv_file(engine, one)
    command.downgrade(alembic_config(database_url), "0006")
    upgrade(database_url)
    assert (read_state(engine).announced, read_state(engine).is_announced) == (None, False)
    assert import_qpv_file(engine, one).generation == 2
    assert read_state(engine).is_announced
    engine.dispose()
