"""The interface of a generation engine: what ModelServer and the evaluation hold.

An engine is one loaded model (plus the LoRA adapters attached over it) that decodes
GenerationRequests in its own continuous batch: a request is submitted, its text pieces stream
to a callback, its future gets a GenerationResult or the request's error, and setting its cancel
event stops it at its next token. Implementations: ``transformers_engine`` (the reference; GPUs;
the model being trained) and ``llamacpp_model`` (CPU, the GGUF as fetched). ``engines.load_engine``
picks one from the config; nothing else branches on which it is.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from configs.serving import ModelServerOptions
from llm.generation import GenerationRequest, GenerationResult

# Told (rows decoded, seconds) after each decode step, by engines whose steps are visible.
StepListener = Callable[[int, float], None]


class Engine(ABC):
    """A loaded model that decodes requests; every method may be called from any thread."""

    name: str  # "transformers" or "llamacpp", reported in the model's info

    @abstractmethod
    def submit(
        self,
        request: GenerationRequest,
        cancel: threading.Event,
        on_piece: Callable[[str], None] | None = None,
    ) -> Future[GenerationResult]:
        """Queue a request. ``on_piece`` gets its reply's text pieces in order, from the engine's
        thread, all before the future resolves. The future raises the request's own error (a
        prompt too long, a template that refuses the messages, cancelled, timed out)."""

    @abstractmethod
    def prepare_tool_grammar(self, request: GenerationRequest, timeout_s: float) -> None:
        """Compile the request's tool grammar before it is submitted (blocking: call it off the
        event loop). Raises ToolGrammarError for a strict grammar that cannot be compiled; a
        non-strict one then decodes unconstrained (logged and counted)."""

    @abstractmethod
    def attach_adapter(self, name: str, path: str) -> None:
        """Load the peft LoRA adapter in folder ``path`` under ``name``, beside the others, for
        requests naming it (``GenerationRequest.adapter.peft_name``). Blocking; raises
        ModelLoadError. Requests in flight are not dropped."""

    @abstractmethod
    def detach_adapter(self, name: str) -> None:
        """Forget an adapter no request in flight uses (no-op for an unknown name)."""

    @abstractmethod
    def attached_adapters(self) -> set[str]:
        """Names of the adapters requests may name now."""

    @abstractmethod
    def reconfigure(self, options: ModelServerOptions) -> None:
        """Apply the replica's options (batch size, threads); an engine that can only take them
        at start says so in the log and applies them when it next starts."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """What is loaded and how (ModelInfo's fields), with the engine's counters."""

    @abstractmethod
    def counters(self) -> dict[str, Any]:
        """Running totals for metrics: ``prefix_cache`` (PrefixCacheStats' fields),
        ``tool_grammar`` (compiled, cache_hits, failed, compile_seconds), ``cancelled``, and
        ``running`` / ``waiting`` now."""

    @abstractmethod
    def check_health(self) -> None:
        """Raise when the engine cannot serve any more (lost weights or GPU, steps failing in a
        row); Serve then replaces the replica."""

    @abstractmethod
    def close(self) -> None:
        """Let the requests in flight finish, then free the model."""
