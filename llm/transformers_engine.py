"""The transformers engine: a LoadedModel decoded by one DecodeLoop (continuous batching, prefix
cache, xgrammar tool masks, per-request peft adapters). The reference engine: GPUs, and the model
being trained (its evaluation wraps the training model in one)."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import torch

from configs.serving import ModelServerOptions
from configs.settings import ModelConfig
from llm.decode_batch import IncrementalText
from llm.decode_loop import DecodeLoop, StepReport
from llm.engine import Engine, StepListener
from llm.errors import ModelLoadError
from llm.generation import GenerationCancelledError, GenerationRequest, GenerationResult
from llm.loading import (
    LoadedModel,
    attach_adapter,
    attached_adapters,
    detach_adapter,
    load_model,
)
from llm.tool_grammar import ToolGrammarError

logger = logging.getLogger(__name__)

# Failed decode steps in a row (not a bad request: those fail one row) before health fails.
UNHEALTHY_AFTER_FAILED_STEPS = 3


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(
        self,
        loaded: LoadedModel,
        options: ModelServerOptions,
        on_step: StepListener | None = None,
    ) -> None:
        self.loaded = loaded
        self._on_step = on_step
        self._failed_steps = 0  # decode steps failing in a row: the engine is broken
        self._steps: Counter[str] = Counter()  # decode steps run, and the rows they decoded
        self._cancelled = 0  # rows stopped because their client left
        self._loop = DecodeLoop(
            options.max_batch_size, prepare=self._ensure_attached, on_step=self._count_step
        )
        self.reconfigure(options)

    @classmethod
    def load(
        cls,
        model_path: str,
        base_model_name: str | None,
        config: ModelConfig,
        options: ModelServerOptions,
        on_step: StepListener | None = None,
    ) -> TransformersEngine:
        return cls(load_model(model_path, base_model_name, config), options, on_step)

    def submit(
        self,
        request: GenerationRequest,
        cancel: threading.Event,
        on_piece: Callable[[str], None] | None = None,
    ) -> Future[GenerationResult]:
        if on_piece is None:
            return self._loop.submit(self.loaded, request, cancel)
        text = IncrementalText(self.loaded.tokenizer)

        def on_token(token: int) -> None:
            if piece := text.add(token):
                on_piece(piece)

        def on_end(_: Future) -> None:
            if piece := text.rest():
                on_piece(piece)

        future = self._loop.submit(self.loaded, request, cancel, on_token)
        future.add_done_callback(on_end)  # after the row's last token, before the caller's
        return future

    def prepare_tool_grammar(self, request: GenerationRequest, timeout_s: float) -> None:
        if request.tool_grammar is None or not request.tool_calls_allowed:
            return
        try:
            self.loaded.tool_grammars().compile(request.tool_grammar, timeout_s)
        except ToolGrammarError:
            if request.tool_grammar.strict:
                raise

    def attach_adapter(self, name: str, path: str) -> None:
        self._on_loop(self._attach, name, path)

    def detach_adapter(self, name: str) -> None:
        self._on_loop(detach_adapter, self.loaded, name)

    def attached_adapters(self) -> set[str]:
        return attached_adapters(self.loaded)

    def reconfigure(self, options: ModelServerOptions) -> None:
        # On the thread that computes: torch sets OpenMP's thread count per calling thread.
        self._on_loop(torch.set_num_threads, options.torch_threads)
        self._loop.max_rows = options.max_batch_size

    def info(self) -> dict[str, Any]:
        return {
            **self.loaded.info(),
            "engine": self.name,
            "batches": self._steps["steps"],
            "batched_requests": self._steps["rows"],
            "generations_running": self._loop.decoding,
            "generations_cancelled": self._cancelled,
        }

    def counters(self) -> dict[str, Any]:
        grammars = self.loaded.existing_tool_grammars()
        return {
            "prefix_cache": self.loaded.prefix_cache.stats(),
            "tool_grammar": dict(grammars.stats) if grammars else {},
            "cancelled": self._cancelled,
            "running": self._loop.decoding,
            "waiting": self._loop.waiting,
        }

    def check_health(self) -> None:
        loaded = self.loaded
        if loaded.model is None or loaded.tokenizer is None:
            raise RuntimeError(f"model {loaded.model_path} lost its weights or tokenizer")
        if loaded.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"model {loaded.model_path} was loaded on a GPU that is gone")
        if self._failed_steps >= UNHEALTHY_AFTER_FAILED_STEPS:
            raise RuntimeError(f"the last {self._failed_steps} decode steps all failed")

    def close(self) -> None:
        self._loop.close()

    def _on_loop(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run work with the model on the loop's thread, between two decode steps."""
        return self._loop.call(function, *args).result()

    def _attach(self, name: str, path: str) -> None:
        """On the loop's thread."""
        if name not in attached_adapters(self.loaded):
            attach_adapter(self.loaded, name, path)

    def _ensure_attached(
        self, loaded: LoadedModel, requests: list[GenerationRequest]
    ) -> dict[int, Exception]:
        """On the loop's thread, before requests join the batch: re-attach what a detach race
        took away (rare, so no limit applies). Returns the error of each request whose adapter
        cannot be attached, by index."""
        failed: dict[str, ModelLoadError] = {}
        for request in requests:
            adapter = request.adapter
            if adapter is None or adapter.peft_name in attached_adapters(loaded):
                continue
            if adapter.peft_name in failed:
                continue
            try:
                attach_adapter(loaded, adapter.peft_name, adapter.path)
            except ModelLoadError as error:
                failed[adapter.peft_name] = error
        return {
            index: failed[r.adapter.peft_name]
            for index, r in enumerate(requests)
            if r.adapter and r.adapter.peft_name in failed
        }

    def _count_step(self, report: StepReport | Exception) -> None:
        """The decode loop's report of a step (from its thread)."""
        if isinstance(report, Exception):
            self._failed_steps += 1
            return
        self._failed_steps = 0
        self._cancelled += sum(
            isinstance(outcome, GenerationCancelledError) for outcome in report.ended
        )
        if report.rows:  # not a round in which every request ended at its prefill or failed
            self._steps.update(steps=1, rows=report.rows)
            if self._on_step is not None:
                self._on_step(report.rows, report.seconds)
