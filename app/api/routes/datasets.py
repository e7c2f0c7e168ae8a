"""``GET /v1/datasets``: what is imported and what the index answers from."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import IndexDep, SessionDep
from app.api.schemas import DatasetOut
from app.db import repositories

router = APIRouter(tags=["datasets"])


@router.get("/datasets", response_model=list[DatasetOut])
def list_datasets(session: SessionDep, index: IndexDep) -> list[DatasetOut]:
    """Every imported dataset with its provenance, newest first."""
    in_use = {geo.dataset.id for geo in index.geographies.values()}
    return [DatasetOut.stored(d, d.id in in_use) for d in repositories.all_datasets(session)]
