"""ModelServer deployment: holds one loaded model and serves batched generation.

The served model is part of the configuration: a successful load persists ``model.model_path``
(config overrides), and every replica, a replacement or an added one included, serves the persisted
model; a replica that finds it changed loads it before its next request.

The model runs in an engine (``llm.engine``; ``model.engine`` picks transformers or llama.cpp),
and every generation, streamed or not, joins its continuous batch: it starts at the next decode
step, not after the running ones finish. Requests may name a LoRA adapter
(``GenerationRequest.adapter``); Serve model multiplexing routes them to a replica that has it,
and the replica keeps the ``model.max_loaded_adapters`` most recently used adapters attached over
its one base model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ray import serve

from configs.serving import ModelServerOptions
from configs.settings import ModelConfig
from configs.store import ConfigStore
from llm.engine import Engine
from llm.engines import load_engine
from llm.errors import ModelLoadError
from llm.generation import AdapterRef, GenerationRequest, GenerationResult
from serve_app import metrics

logger = logging.getLogger("ray.serve")


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


class _Pieces:
    """A reply's text pieces, handed from the engine's thread to the replica's event loop. The
    loop is woken once for whatever came meanwhile, not once a piece: llama.cpp hands out pieces
    of 16 rows at hundreds a second, and a wake-up per piece kept the loop from noticing clients
    that left."""

    def __init__(self, event_loop: asyncio.AbstractEventLoop) -> None:
        self._event_loop = event_loop
        self._lock = threading.Lock()
        self._pieces: list[str | None] = []
        self._ready = asyncio.Event()

    def put(self, piece: str | None) -> None:
        """From any thread; None ends the reply."""
        with self._lock:
            self._pieces.append(piece)
            first = len(self._pieces) == 1
        if first:
            self._event_loop.call_soon_threadsafe(self._ready.set)

    async def take(self) -> list[str | None]:
        """The pieces that came since the last take (at least one)."""
        while True:
            await self._ready.wait()
            with self._lock:
                taken, self._pieces = self._pieces, []
                self._ready.clear()
            if taken:
                return taken


@serve.deployment
class ModelServer:
    def __init__(self, config_file: str, overrides_file: str) -> None:
        self._store = ConfigStore(config_file, overrides_file)
        self._config = self._store.get().model
        self._options = ModelServerOptions()
        # The (model_path, base_model_name) this replica last loaded or tried to, None before
        # any: it follows the persisted one when another replica's load changes it.
        self._target: tuple[str, str | None] | None = None
        self._engine: Engine | None = None
        self._load_lock = asyncio.Lock()
        self.load_error: str | None = None
        self._recovered: Counter[str] = Counter()  # calls read from JSON, not tags, by format
        # What each engine's counters were when last exported to metrics (an engine per load).
        self._exported: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = (
            weakref.WeakKeyDictionary()
        )
        # Adapters: the multiplexer decides which stay (LRU); an evicted one is detached once no
        # request in flight uses it. _paths: folder of each peft name requested here.
        self._state_lock = threading.Lock()
        self._paths: dict[str, str] = {}
        self._live: set[str] = set()
        self._in_use: Counter[str] = Counter()

        async def load_adapter(model_id: str) -> AdapterSlot:
            return await self._load_adapter(model_id)

        self._get_adapter = serve.multiplexed(
            max_num_models_per_replica=self._config.max_loaded_adapters
        )(load_adapter)
        if self._config.load_on_start:
            self._target = (self._config.model_path, self._config.base_model_name)
            try:
                self._engine = self._load(
                    self._config.model_path, self._config.base_model_name, self._config
                )
            except ModelLoadError as error:
                # Start without a model rather than crash-loop: /model/load can fix it at run time.
                self.load_error = str(error)
                logger.error("no model loaded at start: %s", error)

    def _load(
        self,
        model_path: str,
        base_model_name: str | None,
        config: ModelConfig,
        allowed_roots: list[Path] | None = None,
    ) -> Engine:
        """Load a model into the engine the config picks (blocking: call it off the event loop
        once serving)."""
        return load_engine(
            model_path, base_model_name, config, self._options, allowed_roots, metrics.record_step
        )

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self._options = ModelServerOptions.model_validate(user_config)
        if self._engine is not None:
            self._engine.reconfigure(self._options)
        logger.info("model server options: %s", self._options.model_dump())

    def check_health(self) -> None:
        """Serve calls this every ``health_check_period_s``; raising gets the replica replaced.

        No model is a servable state (404 until /model/load); an engine that lost its weights or
        GPU, or whose generation fails batch after batch, is not.
        """
        engine = self._engine
        # Ray drops a gauge not set for two metrics export intervals (2 x 10 s): keep it shown.
        metrics.QUEUE_DEPTH.set(engine.counters()["waiting"] if engine else 0)
        if engine is not None:
            engine.check_health()

    async def info(self) -> dict[str, Any] | None:
        await self._follow_served_model()
        return self._info(self._engine) if self._engine else None

    def _info(self, engine: Engine) -> dict[str, Any]:
        return {**engine.info(), "tool_calls_recovered": dict(self._recovered)}

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
            engine = await asyncio.to_thread(
                self._load, model_path, base_model_name, self._store.get().model, allowed_roots
            )
            self._swap(engine)
            self.load_error = None
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
        return self._info(engine)

    def _swap(self, engine: Engine) -> None:
        """Serve ``engine`` from now on; the previous one finishes what it holds, then closes."""
        previous, self._engine = self._engine, engine
        if previous is not None:
            threading.Thread(target=previous.close, name="engine-close", daemon=True).start()

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
                engine = await asyncio.to_thread(self._load, *target, wanted)
            except ModelLoadError as error:
                self.load_error = f"loading {target[0]} failed: {error}"
                logger.error("%s; still serving the previous model", self.load_error)
                return
            self._swap(engine)
            self.load_error = None

    def _require_engine(self) -> Engine:
        if self._engine is None:
            raise NoModelLoadedError(
                "no model is loaded: POST /model/load with a model_path first"
                + (f" (start-up load failed: {self.load_error})" if self.load_error else "")
            )
        return self._engine

    async def _load_adapter(self, model_id: str) -> AdapterSlot:
        """Serve's multiplexer calls this on a cache miss (after evicting past the limit)."""
        peft_name = AdapterRef(model_id, "").peft_name
        engine = self._require_engine()
        if peft_name not in engine.attached_adapters():
            await asyncio.to_thread(engine.attach_adapter, peft_name, self._paths[peft_name])
        with self._state_lock:
            self._live.add(peft_name)
        return AdapterSlot(self, peft_name)

    def retire_adapter(self, peft_name: str) -> None:
        """Evicted by the multiplexer: detach it now, or when its last request finishes."""
        with self._state_lock:
            self._live.discard(peft_name)
        threading.Thread(target=self._sweep, name="adapter-sweep", daemon=True).start()

    def _sweep(self) -> None:
        """Detach attached adapters that are evicted and that no request in flight uses."""
        engine = self._engine
        if engine is None:
            return
        with self._state_lock:
            idle = [
                name for name in engine.attached_adapters() - self._live if self._in_use[name] == 0
            ]
        for name in idle:
            engine.detach_adapter(name)
            with self._state_lock:
                if self._in_use[name] == 0:
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
                await asyncio.to_thread(self._sweep)

    async def _prepare(self, request: GenerationRequest) -> Engine:
        """The engine to run the request on, with its tool grammar compiled off the event loop.
        A strict grammar that cannot compile fails the request (400)."""
        await self._follow_served_model()
        engine = self._require_engine()
        timeout_s = self._store.get().generation.tool_grammar_timeout_s
        try:
            await asyncio.to_thread(engine.prepare_tool_grammar, request, timeout_s)
        finally:
            self._export_counters(engine)
        return engine

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        engine = await self._prepare(request)
        # Serve cancels this task when the client leaves: the engine then stops this row at its
        # next token (a request that has not started yet never starts).
        cancel = threading.Event()
        arrived_at = time.time()
        async with self._adapter_in_use(request):
            future = engine.submit(request, cancel)
            metrics.QUEUE_DEPTH.set(engine.counters()["waiting"])
            try:
                outcome = await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                cancel.set()
                raise
        self._recovered.update(outcome.recovered)
        metrics.record_generation(request, outcome, arrived_at)
        self._export_counters(engine)
        return outcome

    def _export_counters(self, engine: Engine) -> None:
        """Add what the engine's prefix cache and grammar compiler counted since the last export
        to metrics, and set the queue depth gauge to the requests waiting now."""
        counters = engine.counters()
        metrics.QUEUE_DEPTH.set(counters["waiting"])
        exported = self._exported.setdefault(engine, {"prefix_cache": {}, "tool_grammar": {}})
        exported["prefix_cache"] = metrics.record_prefix_cache(
            counters["prefix_cache"], exported["prefix_cache"]
        )
        if counters["tool_grammar"]:
            exported["tool_grammar"] = metrics.record_tool_grammar(
                counters["tool_grammar"], exported["tool_grammar"]
            )

    async def generate_stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Text pieces of one reply as they are decoded: the request joins the engine's batch like
        any other and hands its pieces here as they come."""
        arrived_at = time.time()
        engine = await self._prepare(request)
        async with self._adapter_in_use(request):
            pieces = _Pieces(asyncio.get_running_loop())
            cancel = threading.Event()
            future = engine.submit(request, cancel, pieces.put)
            future.add_done_callback(lambda _: pieces.put(None))  # after the reply's last piece
            first_piece_s, ended = None, False
            try:
                while not ended:
                    taken = await pieces.take()
                    ended = taken[-1] is None
                    if text := "".join(piece for piece in taken if piece is not None):
                        first_piece_s = first_piece_s or time.time() - arrived_at
                        yield text
                future.result()  # the reply's error, a timeout after its first pieces say
            finally:
                cancel.set()  # a client that left (Serve cancels this generator) stops its row
        metrics.record_stream(request, first_piece_s)
        self._export_counters(engine)
