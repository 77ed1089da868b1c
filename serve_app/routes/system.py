"""GET /, /health and /status: is the service up, and what does it hold."""

from __future__ import annotations

import importlib.util

from fastapi import APIRouter

from serve_app.backends import BackendsDep, OverloadedError
from serve_app.routes.training import status_from_record
from serve_app.schemas import (
    HealthResponse,
    McpHeldBackTool,
    McpServerState,
    StatusResponse,
    TrainingStatusSummary,
    now_iso,
)

router = APIRouter(tags=["system"])


@router.get("/")
async def root() -> dict[str, str]:
    return {
        "name": "mcp-tune",
        "docs": "/docs",
        "redoc": "/redoc",
        "health": "/health",
        "console": "/ui/",
    }


@router.get("/health", response_model=HealthResponse)
async def health(backends: BackendsDep) -> HealthResponse:
    """Liveness: 200 even while the model server's queue is full (probes must not restart a busy
    app); model_loaded is then the model server's last answer."""
    try:
        model_loaded = await backends.model_info() is not None
    except OverloadedError:
        model_loaded = backends.model_seen_loaded
    return HealthResponse(
        status="healthy",
        timestamp=now_iso(),
        model_loaded=model_loaded,
        training_status=await backends.is_training(),
    )


@router.get("/status", response_model=StatusResponse)
async def status(backends: BackendsDep) -> StatusResponse:
    info = await backends.model_info()
    training = status_from_record(await backends.call_training("status"))
    servers = await backends.mcp_status()
    return StatusResponse(
        model_loaded=info is not None,
        model_path=info["model_path"] if info else None,
        model_load_error=None if info else await backends.model_load_error(),
        training_status=TrainingStatusSummary(
            is_training=training.is_training, progress=training.progress, message=training.message
        ),
        available_tools=[spec["name"] for spec in await backends.tool_specs()],
        mcp_servers=[
            McpServerState(**{key: server[key] for key in ("name", "connected", "tools", "error")})
            for server in servers
        ],
        mcp_held_back_tools=[
            McpHeldBackTool(**tool) for server in servers for tool in server["held_back"]
        ],
        hf_manager_available=importlib.util.find_spec("huggingface_hub") is not None,
        prefix_cache=info["prefix_cache"] if info else None,
        tool_calls_recovered=info["tool_calls_recovered"] if info else {},
    )
