"""``/v1/admin``: reload the reference data in every worker; create, list and revoke API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import SettingsDep
from app.api.schemas import KeyCreated, KeyIn, KeyOut, Reloaded
from app.db.access import create_key, list_keys, revoke_key
from app.keys import server_secret

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/reload", response_model=Reloaded)
async def reload(request: Request, settings: SettingsDep) -> Reloaded:
    """Reload datasets, divisions and geocoders from the database, in every worker.

    This worker has reloaded when the answer comes; the others within ``QPV_RELOAD_POLL_S``
    plus their load time. Requests are answered from the old data until then.
    """
    generation = await request.app.state.reloader.reload()
    index = request.app.state.index
    datasets = {str(g): geo.dataset.version for g, geo in index.geographies.items()}
    detail = f"reloaded; every worker follows within {settings.reload_poll_s:g} s and its load"
    return Reloaded(generation=generation, datasets=datasets, detail=detail)


@router.get("/keys", response_model=list[KeyOut])
async def keys(request: Request) -> list[KeyOut]:
    """Every API key, revoked ones included (never the key itself)."""
    return [KeyOut.of(k) for k in await run_in_threadpool(list_keys, request.app.state.engine)]


@router.post("/keys", response_model=KeyCreated, status_code=201)
async def new_key(body: KeyIn, request: Request, settings: SettingsDep) -> KeyCreated:
    """Create a key; the answer is the only place it is ever shown."""
    secret = server_secret(settings.api_key_secret)
    key, token = await run_in_threadpool(
        create_key,
        request.app.state.engine,
        secret,
        body.name,
        ",".join(body.scopes),
        body.rate_per_min,
    )
    return KeyCreated(**KeyOut.of(key).model_dump(), key=token)


@router.delete("/keys/{key_id}", status_code=204)
async def revoke(
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="the key's id")], request: Request
) -> Response:
    """Revoke a key: refused by every worker once its cache entry ages out."""
    await run_in_threadpool(revoke_key, request.app.state.engine, str(key_id))
    return Response(status_code=204)
