"""A process reads the data generation together with the datasets it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.data import runtime
from app.data.importer import import_qpv_file
from app.db.publication import read_state
from app.db.session import make_engine
from app.settings import Settings
from app.spatial.geography import Geography
from tests.db.test_publication import small_file


def test_an_import_committed_while_a_process_loads_is_the_next_generation_not_this_one(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url)
    first = import_qpv_file(engine, small_file(tmp_path, "one.geojson"))
    load_index = runtime.load_index

    def import_then_load(*args: Any) -> Any:
        # The import commits after the process read the state, before it reads the quartiers.
        import_qpv_file(engine, small_file(tmp_path, "two.geojson"))
        return load_index(*args)

    monkeypatch.setattr(runtime, "load_index", import_then_load)
    loaded = runtime.load_runtime(Settings(database_url=database_url, geocoders=[]), engine)
    assert loaded.state.generation == first.generation
    assert loaded.index.geographies[Geography.QPV2024].dataset.id == first.dataset_id
    assert loaded.state.versions() == {Geography.QPV2024: first.dataset.version}
    assert read_state(engine).generation == loaded.state.generation + 1  # seen at the next poll
    engine.dispose()
