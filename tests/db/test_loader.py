"""Loading the index from the database, with the membership grid cached at import."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.data.importer import import_qpv_file
from app.db.loader import load_index
from app.db.models import QpvGrid
from app.db.session import make_engine
from app.spatial.geography import Geography
from app.spatial.index import exact_tag
from tests.conftest import QPV2015_SHP, QPV2024_GEOJSON


def test_import_caches_the_grid_and_start_up_loads_it(database_url: str) -> None:
    engine = make_engine(database_url)
    import_qpv_file(engine, QPV2024_GEOJSON)
    geo = load_index(engine).get(Geography.QPV2024)
    assert geo.grid_loaded


@pytest.mark.parametrize(
    "payload",
    [b"not an npz at all", "other-dataset"],
    ids=["corrupt", "grid-of-another-dataset"],
)
def test_a_stale_or_corrupt_grid_is_rebuilt_and_answers_stay_exact(
    sqlite_url: str, payload: bytes | str
) -> None:
    engine = make_engine(sqlite_url)
    first = import_qpv_file(engine, QPV2015_SHP)
    second = import_qpv_file(engine, QPV2024_GEOJSON)
    with Session(engine) as session, session.begin():
        if payload == "other-dataset":
            other = session.get(QpvGrid, first.dataset_id)
            assert other is not None
            payload = other.payload
        session.execute(
            update(QpvGrid).where(QpvGrid.dataset_id == second.dataset_id).values(payload=payload)
        )
    geo = load_index(engine).get(Geography.QPV2024)
    assert not geo.grid_loaded
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(2.2, 2.6, 20_000), rng.uniform(48.75, 48.95, 20_000)
    np.testing.assert_array_equal(geo.tag(lon, lat), exact_tag(geo.tree, lon, lat))
    # The rebuilt grid was stored again: the next start-up loads it.
    assert load_index(engine).get(Geography.QPV2024).grid_loaded
