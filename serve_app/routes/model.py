"""POST /model/load and GET /model/info."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from serve_app.backends import BackendsDep
from serve_app.schemas import ModelInfo, ModelLoadRequest, ModelLoadResponse

router = APIRouter(prefix="/model", tags=["model"])


def load_message(model: ModelInfo) -> str:
    """One sentence for a client to show, e.g. "loaded models/x (LoRA over Qwen/Qwen2-0.5B,
    1,081,344 parameters) in 3.2 s on cpu/float32"."""
    kind = f"LoRA over {model.base_model_name}" if model.model_type == "LoRA" else "full model"
    weights = f"{model.device}/{model.dtype}"
    if model.quantization != "none":
        weights += f", {model.quantization} Linear layers"
    return (
        f"loaded {model.model_path} ({kind}, {model.parameters:,} parameters) "
        f"in {model.load_seconds:.1f} s on {weights}"
    )


@router.post("/load", response_model=ModelLoadResponse)
async def load_model(body: ModelLoadRequest, backends: BackendsDep) -> ModelLoadResponse:
    """Load a full model or a LoRA adapter folder; the current model serves until it succeeds."""
    model = ModelInfo(**await backends.load_model(body.model_path, body.base_model_name))
    return ModelLoadResponse(status="loaded", model=model, message=load_message(model))


@router.get("/info", response_model=ModelInfo)
async def model_info(backends: BackendsDep) -> ModelInfo:
    info = await backends.model_info()
    if info is None:
        raise HTTPException(404, "no model is loaded: POST /model/load with a model_path first")
    return ModelInfo(**info)
