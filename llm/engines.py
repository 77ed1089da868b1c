"""Pick and load the engine ``model.engine`` names: the one place that knows every engine.

``auto`` runs llama.cpp on a CPU when the model has a GGUF (a model fetched by name, a folder
with ``model.gguf``, or an adapter over one) and transformers otherwise (GPUs, plain folders).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from configs.serving import ModelServerOptions
from configs.settings import ModelConfig
from llm.engine import Engine, StepListener
from llm.llamacpp_model import LlamaCppModel, find_gguf_model
from llm.loading import check_allowed, pick_device
from llm.transformers_engine import TransformersEngine

logger = logging.getLogger(__name__)


def engine_for(model_path: str, base_model_name: str | None, config: ModelConfig) -> str:
    """The engine that will run ``model_path`` under ``config``: transformers or llamacpp."""
    if config.engine != "auto":
        return config.engine
    if pick_device(config.device) != "cpu":
        return "transformers"
    has_gguf = find_gguf_model(model_path, base_model_name, config) is not None
    return "llamacpp" if has_gguf else "transformers"


def load_engine(
    model_path: str,
    base_model_name: str | None,
    config: ModelConfig,
    options: ModelServerOptions,
    allowed_roots: Sequence[Path] | None = None,
    on_step: StepListener | None = None,
) -> Engine:
    """Load ``model_path`` into its engine. With ``allowed_roots`` (a client's request), every
    folder read must lie under one of them. Raises ModelLoadError."""
    if allowed_roots is not None:
        check_allowed(model_path, base_model_name, config, allowed_roots)
    engine = engine_for(model_path, base_model_name, config)
    logger.info(
        "loading %s with the %s engine (model.engine %s)", model_path, engine, config.engine
    )
    if engine == "llamacpp":
        return LlamaCppModel.load(model_path, base_model_name, config, options)
    return TransformersEngine.load(model_path, base_model_name, config, options, on_step=on_step)
