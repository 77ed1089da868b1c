"""GET /config and POST /config/update."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from serve_app.backends import BackendsDep
from serve_app.schemas import ConfigUpdateResponse

router = APIRouter(prefix="/config", tags=["config"])


@router.get("")
async def get_config(backends: BackendsDep) -> dict[str, Any]:
    return backends.config.get().model_dump()


@router.post("/update", response_model=ConfigUpdateResponse)
async def update_config(
    update: Annotated[
        dict[str, Any],
        Body(examples=[{"model": {"max_length": 4096}, "training": {"batch_size": 8}}]),
    ],
    backends: BackendsDep,
) -> ConfigUpdateResponse:
    """Deep-merge a partial update, validate it, persist it atomically; invalid → 400, no change.

    Generation and tool settings apply to the next request; model settings to the next load.
    """
    config = backends.config.update(update)
    return ConfigUpdateResponse(status="updated", config=config.model_dump())
