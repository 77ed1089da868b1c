"""ModelServer deployment: holds one loaded model and serves batched generation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import torch
from ray import serve

from configs.serving import ModelServerOptions
from configs.settings import ModelConfig
from serve_app.generation import (
    GenerationRequest,
    GenerationResult,
    generate_batch,
    stream_generate,
)
from serve_app.model_loading import LoadedModel, ModelLoadError, load_model

logger = logging.getLogger("ray.serve")

# Whole-batch failures in a row (not a bad request: those fail one item) before health fails.
_UNHEALTHY_AFTER_FAILED_BATCHES = 3


class NoModelLoadedError(LookupError):
    """Generation was asked for before any model was loaded."""


@serve.deployment
class ModelServer:
    def __init__(self, model_config: dict[str, Any]) -> None:
        self._config = ModelConfig.model_validate(model_config)
        self._loaded: LoadedModel | None = None
        self._load_lock = asyncio.Lock()
        self.load_error: str | None = None
        self._failed_batches = 0  # whole batches failing in a row: the replica is broken
        if self._config.load_on_start:
            try:
                self._loaded = load_model(
                    self._config.model_path, self._config.base_model_name, self._config.device
                )
            except ModelLoadError as error:
                # Start without a model rather than crash-loop: /model/load can fix it at run time.
                self.load_error = str(error)
                logger.error("no model loaded at start: %s", error)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        options = ModelServerOptions.model_validate(user_config)
        torch.set_num_threads(options.torch_threads)
        self._generate_batch.set_max_batch_size(options.max_batch_size)
        self._generate_batch.set_batch_wait_timeout_s(options.batch_wait_timeout_s)
        logger.info("model server options: %s", options.model_dump())

    def check_health(self) -> None:
        """Serve calls this every ``health_check_period_s``; raising gets the replica replaced.

        No model is a servable state (404 until /model/load); a loaded model without weights or
        tokenizer, a lost GPU, or generation failing batch after batch is not.
        """
        loaded = self._loaded
        if loaded is not None:
            if loaded.model is None or loaded.tokenizer is None:
                raise RuntimeError(f"model {loaded.model_path} lost its weights or tokenizer")
            if loaded.device == "cuda" and not torch.cuda.is_available():
                raise RuntimeError(f"model {loaded.model_path} was loaded on a GPU that is gone")
        if self._failed_batches >= _UNHEALTHY_AFTER_FAILED_BATCHES:
            raise RuntimeError(f"the last {self._failed_batches} generation batches all failed")

    def info(self) -> dict[str, Any] | None:
        return self._loaded.info() if self._loaded else None

    def get_load_error(self) -> str | None:
        return self.load_error

    async def load(
        self,
        model_path: str,
        base_model_name: str | None,
        allowed_roots: list[Path] | None = None,
    ) -> dict[str, Any]:
        """Swap in another model; on failure the current one keeps serving. A client's request
        brings ``allowed_roots``, the folders it may load from."""
        async with self._load_lock:
            loaded = await asyncio.to_thread(
                load_model, model_path, base_model_name, self._config.device, allowed_roots
            )
            self._loaded = loaded
            self.load_error = None
        return loaded.info()

    def _require_model(self) -> LoadedModel:
        if self._loaded is None:
            raise NoModelLoadedError(
                "no model is loaded: POST /model/load with a model_path first"
                + (f" (start-up load failed: {self.load_error})" if self.load_error else "")
            )
        return self._loaded

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self._require_model()
        outcome = await self._generate_batch(request)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def generate_stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Text pieces of one reply as they are decoded; streams are not batched."""
        loaded = self._require_model()
        pieces = stream_generate(loaded, request)
        while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
            yield piece

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.05)
    async def _generate_batch(
        self, requests: list[GenerationRequest]
    ) -> list[GenerationResult | Exception]:
        loaded = self._loaded
        # A thread keeps the replica's event loop free to gather the next batch meanwhile.
        try:
            results = await asyncio.to_thread(generate_batch, loaded, requests)
        except Exception:
            self._failed_batches += 1
            raise
        self._failed_batches = 0
        return results
