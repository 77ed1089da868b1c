"""ModelServer deployment: holds one loaded model and serves batched generation.

The served model is part of the configuration: a successful load persists ``model.model_path``
(config overrides), and every replica, a replacement or an added one included, serves the persisted
model; a replica that finds it changed loads it before its next request.

Every generation, streamed or not, joins one continuous batch (``decode_loop``): it starts at the
next decode step, not after the running ones finish. Requests may name a LoRA adapter
(``GenerationRequest.adapter``); Serve model multiplexing routes them to a replica that has it,
and the replica keeps the ``model.max_loaded_adapters`` most recently used adapters attached,
unmerged, over its one base model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import torch
from ray import serve

from configs.serving import ModelServerOptions
from configs.store import ConfigStore
from llm.decode_batch import IncrementalText
from llm.generation import (
    AdapterRef,
    GenerationCancelledError,
    GenerationRequest,
    GenerationResult,
)
from llm.loading import (
    LoadedModel,
    ModelLoadError,
    attach_adapter,
    attached_adapters,
    detach_adapter,
    load_model,
)
from llm.tool_grammar import ToolGrammarError
from serve_app import metrics
from serve_app.decode_loop import DecodeLoop, StepReport

logger = logging.getLogger("ray.serve")

# Failed decode steps in a row (not a bad request: those fail one row) before health fails.
_UNHEALTHY_AFTER_FAILED_STEPS = 3


class NoModelLoadedError(LookupError):
    """Generation was asked for before any model was loaded."""


class AdapterSlot:
    """What Serve's multiplexer caches per adapter; it calls ``__del__`` on LRU eviction."""

    def __init__(self, server: ModelServer, peft_name: str) -> None:
        self._server, self.peft_name, self._retired = server, peft_name, False

    def __del__(self) -> None:
        # Serve calls this on eviction and the garbage collector later; retire only once.
        if not self._retired:
            self._retired = True
            self._server.retire_adapter(self.peft_name)


@serve.deployment
class ModelServer:
    def __init__(self, config_file: str, overrides_file: str) -> None:
        self._store = ConfigStore(config_file, overrides_file)
        self._config = self._store.get().model
        # The (model_path, base_model_name) this replica last loaded or tried to, None before
        # any: it follows the persisted one when another replica's load changes it.
        self._target: tuple[str, str | None] | None = None
        self._loaded: LoadedModel | None = None
        self._load_lock = asyncio.Lock()
        self.load_error: str | None = None
        self._failed_steps = 0  # decode steps failing in a row: the replica is broken
        self._recovered: Counter[str] = Counter()  # calls read from JSON, not tags, by format
        self._steps = Counter()  # decode steps run, and the rows they decoded
        self._cancelled = 0  # rows stopped because their client left
        # Each prefix cache's totals when last exported (a loaded model brings a new cache).
        self._cache_exported: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._grammar_exported: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Adapters: the multiplexer decides which stay (LRU); an evicted one is detached once no
        # request in flight uses it. _paths: folder of each peft name requested here.
        self._state_lock = threading.Lock()
        self._paths: dict[str, str] = {}
        self._live: set[str] = set()
        self._in_use: Counter[str] = Counter()
        self._decode_loop = DecodeLoop(
            ModelServerOptions().max_batch_size,
            prepare=self._ensure_attached,
            on_step=self._count_step,
        )

        async def load_adapter(model_id: str) -> AdapterSlot:
            return await self._load_adapter(model_id)

        self._get_adapter = serve.multiplexed(
            max_num_models_per_replica=self._config.max_loaded_adapters
        )(load_adapter)
        if self._config.load_on_start:
            self._target = (self._config.model_path, self._config.base_model_name)
            try:
                self._loaded = self._decode_loop.call(
                    load_model, self._config.model_path, self._config.base_model_name, self._config
                ).result()
            except ModelLoadError as error:
                # Start without a model rather than crash-loop: /model/load can fix it at run time.
                self.load_error = str(error)
                logger.error("no model loaded at start: %s", error)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        options = ModelServerOptions.model_validate(user_config)
        # On the thread that computes: torch sets OpenMP's thread count per calling thread.
        self._decode_loop.call(torch.set_num_threads, options.torch_threads).result()
        self._decode_loop.max_rows = options.max_batch_size
        logger.info("model server options: %s", options.model_dump())

    def check_health(self) -> None:
        """Serve calls this every ``health_check_period_s``; raising gets the replica replaced.

        No model is a servable state (404 until /model/load); a loaded model without weights or
        tokenizer, a lost GPU, or generation failing batch after batch is not.
        """
        # Ray drops a gauge not set for two metrics export intervals (2 x 10 s): keep it shown.
        metrics.QUEUE_DEPTH.set(self._decode_loop.waiting)
        loaded = self._loaded
        if loaded is not None:
            if loaded.model is None or loaded.tokenizer is None:
                raise RuntimeError(f"model {loaded.model_path} lost its weights or tokenizer")
            if loaded.device == "cuda" and not torch.cuda.is_available():
                raise RuntimeError(f"model {loaded.model_path} was loaded on a GPU that is gone")
        if self._failed_steps >= _UNHEALTHY_AFTER_FAILED_STEPS:
            raise RuntimeError(f"the last {self._failed_steps} decode steps all failed")

    async def info(self) -> dict[str, Any] | None:
        await self._follow_served_model()
        return self._info(self._loaded) if self._loaded else None

    def _info(self, loaded: LoadedModel) -> dict[str, Any]:
        return {
            **loaded.info(),
            "tool_calls_recovered": dict(self._recovered),
            "batches": self._steps["steps"],
            "batched_requests": self._steps["rows"],
            "generations_running": self._decode_loop.decoding,
            "generations_cancelled": self._cancelled,
        }

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
            loaded = await self._on_model_thread(
                load_model, model_path, base_model_name, self._store.get().model, allowed_roots
            )
            self._loaded, self.load_error = loaded, None
            self._target = (model_path, base_model_name)
            # Persisted so the other replicas, replacements and restarts serve it too.
            await asyncio.to_thread(
                self._store.update,
                {
                    "model": {
                        "model_path": model_path,
                        "base_model_name": base_model_name,
                        "load_on_start": True,
                    }
                },
            )
        logger.info("serving %s (persisted in the config overrides)", model_path)
        return self._info(loaded)

    async def _follow_served_model(self) -> None:
        """Load the persisted model when another replica's load changed it; on failure keep
        serving the current one and report the error (GET /health)."""
        wanted = self._store.get().model
        target = (wanted.model_path, wanted.base_model_name)
        if not wanted.load_on_start or target == self._target:
            return
        async with self._load_lock:
            if target == self._target:
                return
            self._target = target  # tried once; a new load or update changes it again
            logger.info("the served model changed to %s: loading it on this replica", target[0])
            try:
                loaded = await self._on_model_thread(load_model, *target, wanted)
            except ModelLoadError as error:
                self.load_error = f"loading {target[0]} failed: {error}"
                logger.error("%s; still serving the previous model", self.load_error)
                return
            self._loaded, self.load_error = loaded, None

    def _require_model(self) -> LoadedModel:
        if self._loaded is None:
            raise NoModelLoadedError(
                "no model is loaded: POST /model/load with a model_path first"
                + (f" (start-up load failed: {self.load_error})" if self.load_error else "")
            )
        return self._loaded

    async def _load_adapter(self, model_id: str) -> AdapterSlot:
        """Serve's multiplexer calls this on a cache miss (after evicting past the limit)."""
        peft_name = AdapterRef(model_id, "").peft_name
        loaded = self._require_model()
        await self._on_model_thread(self._attach, loaded, peft_name)
        with self._state_lock:
            self._live.add(peft_name)
        return AdapterSlot(self, peft_name)

    async def _on_model_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run work with the model on the decode loop's thread, between two decode steps."""
        return await asyncio.wrap_future(self._decode_loop.call(function, *args))

    def _attach(self, loaded: LoadedModel, peft_name: str) -> None:
        """On the model thread."""
        if peft_name not in attached_adapters(loaded):
            attach_adapter(loaded, peft_name, self._paths[peft_name])

    def retire_adapter(self, peft_name: str) -> None:
        """Evicted by the multiplexer: detach it now, or when its last request finishes."""
        with self._state_lock:
            self._live.discard(peft_name)
        self._decode_loop.call(self._sweep)

    def _sweep(self) -> None:
        """Detach attached adapters that are evicted and that no request in flight uses (on the
        model thread)."""
        loaded = self._loaded
        if loaded is None:
            return
        with self._state_lock:
            for name in attached_adapters(loaded) - self._live:
                if self._in_use[name] == 0:
                    detach_adapter(loaded, name)
                    self._paths.pop(name, None)
                    del self._in_use[name]

    @asynccontextmanager
    async def _adapter_in_use(self, request: GenerationRequest) -> AsyncIterator[None]:
        """Make sure the request's adapter is loaded here and stays until the request ends."""
        if request.adapter is None:
            yield
            return
        if serve.get_multiplexed_model_id() != request.adapter.model_id:
            raise ValueError("a request with an adapter must be sent with its multiplexed_model_id")
        name = request.adapter.peft_name
        self._paths[name] = request.adapter.path
        await self._get_adapter(request.adapter.model_id)
        with self._state_lock:
            self._in_use[name] += 1
        try:
            yield
        finally:
            with self._state_lock:
                self._in_use[name] -= 1
                evicted_and_idle = name not in self._live and self._in_use[name] == 0
            if evicted_and_idle:
                await self._on_model_thread(self._sweep)

    def _ensure_attached(
        self, loaded: LoadedModel, requests: list[GenerationRequest]
    ) -> dict[int, Exception]:
        """On the model thread, before requests join the batch: re-attach what a base swap or an
        eviction race took away; rare, so no limit applies (the next sweep detaches what is not
        live). Returns the error of each request whose adapter cannot be attached, by index."""
        missing = {r.adapter.peft_name for r in requests if r.adapter} - attached_adapters(loaded)
        failed: dict[str, ModelLoadError] = {}
        for name in missing:
            try:
                self._attach(loaded, name)
            except ModelLoadError as error:
                failed[name] = error
        return {
            index: failed[r.adapter.peft_name]
            for index, r in enumerate(requests)
            if r.adapter and r.adapter.peft_name in failed
        }

    async def _compile_tool_grammar(self, loaded: LoadedModel, request: GenerationRequest) -> None:
        """Compile the request's tool grammar here, off the decode thread, so that its row
        finds it in the cache. A strict grammar that cannot compile fails the request (400);
        the others decode unconstrained (the row logs and counts it)."""
        if request.tool_grammar is None or not request.tool_calls_allowed:
            return
        compiler = loaded.tool_grammars()
        timeout_s = self._store.get().generation.tool_grammar_timeout_s
        try:
            await asyncio.to_thread(compiler.compile, request.tool_grammar, timeout_s)
        except ToolGrammarError:
            if request.tool_grammar.strict:
                raise
        finally:
            exported = self._grammar_exported.get(compiler, {})
            self._grammar_exported[compiler] = metrics.record_tool_grammar(compiler.stats, exported)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        await self._follow_served_model()
        loaded = self._require_model()
        await self._compile_tool_grammar(loaded, request)
        # Serve cancels this task when the client leaves: the loop then stops this row at its
        # next token (a request that has not joined the batch yet never starts).
        cancel = threading.Event()
        arrived_at = time.time()
        async with self._adapter_in_use(request):
            future = self._decode_loop.submit(loaded, request, cancel)
            metrics.QUEUE_DEPTH.set(self._decode_loop.waiting)
            try:
                outcome = await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                cancel.set()
                raise
        self._recovered.update(outcome.recovered)
        metrics.record_generation(request, outcome, arrived_at)
        self._export_prefix_cache()
        return outcome

    def _count_step(self, report: StepReport | Exception) -> None:
        """The decode loop's report of a step (from its thread): counters and metrics."""
        if isinstance(report, Exception):
            self._failed_steps += 1
            return
        self._failed_steps = 0
        self._cancelled += sum(
            isinstance(outcome, GenerationCancelledError) for outcome in report.ended
        )
        if report.rows:  # not a round in which every request ended at its prefill or failed
            self._steps.update(steps=1, rows=report.rows)
            metrics.record_step(report.rows, report.seconds)
        metrics.QUEUE_DEPTH.set(self._decode_loop.waiting)

    def _export_prefix_cache(self) -> None:
        """Add what the served model's prefix cache counted since the last export to metrics."""
        if self._loaded is not None:
            cache = self._loaded.prefix_cache
            exported = self._cache_exported.get(cache, {})
            self._cache_exported[cache] = metrics.record_prefix_cache(cache.stats(), exported)

    async def generate_stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Text pieces of one reply as they are decoded: the request joins the decode batch like
        any other and hands its tokens here as they come."""
        arrived_at = time.time()
        await self._follow_served_model()
        loaded = self._require_model()
        await self._compile_tool_grammar(loaded, request)
        async with self._adapter_in_use(request):
            event_loop = asyncio.get_running_loop()
            tokens: asyncio.Queue[int | None] = asyncio.Queue()

            def on_token(token: int | None) -> None:
                event_loop.call_soon_threadsafe(tokens.put_nowait, token)

            cancel = threading.Event()
            future = self._decode_loop.submit(loaded, request, cancel, on_token)
            future.add_done_callback(lambda _: on_token(None))  # after the row's last token
            text, first_piece_s = IncrementalText(loaded.tokenizer), None
            try:
                while (token := await tokens.get()) is not None:
                    if piece := text.add(token):
                        first_piece_s = first_piece_s or time.time() - arrived_at
                        yield piece
                if piece := text.rest():
                    yield piece
                future.result()  # the row's error, a timeout after its first pieces say
            finally:
                cancel.set()  # a client that left (Serve cancels this generator) stops its row
        metrics.record_stream(request, first_piece_s)
        self._export_prefix_cache()
