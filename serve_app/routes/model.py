"""POST /model/load and GET /model/info."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from serve_app.backends import BackendsDep
from serve_app.schemas import ModelInfo, ModelLoadRequest, ModelLoadResponse

router = APIRouter(prefix="/model", tags=["model"])


@router.post("/load", response_model=ModelLoadResponse)
async def load_model(body: ModelLoadRequest, backends: BackendsDep) -> ModelLoadResponse:
    """Load a full model or a LoRA adapter folder; the current model serves until it succeeds."""
    info = await backends.load_model(body.model_path, body.base_model_name)
    return ModelLoadResponse(status="loaded", model=ModelInfo(**info))


@router.get("/info", response_model=ModelInfo)
async def model_info(backends: BackendsDep) -> ModelInfo:
    info = await backends.model_info()
    if info is None:
        raise HTTPException(404, "no model is loaded: POST /model/load with a model_path first")
    return ModelInfo(**info)
