"""Generate with a GGUF model in llama.cpp, in process (xllamacpp's embedded server): a rendered
prompt in, text pieces and a final result out. It neither renders chats nor parses tool calls
(``generation`` does), and holds no Ray.

Continuous batching is llama.cpp's: ``parallel`` slots decode together, a request joins at the next
step and leaves when done; one submitted while every slot is busy waits here, in order. A slot
keeps its last prompt's keys and values, and a request goes to the slot sharing the longest
prefix with it (``cache_prompt``), so a shared system prompt and tool list is computed once.

LoRA adapters (GGUF files, see ``gguf_lora``) are loaded with the model; each request runs with
some of them (at scale 1) or none. It says so by naming every adapter's scale: 1 for its own, 0
for the others (a request naming none would get whatever scales the server last had). Rows with
different adapters do not share a decode step. llama.cpp's RAM prompt cache, which moves KV out
of slots and back, does not record the adapter it was computed with (ggml-org/llama.cpp#30129),
so it is off whenever adapters are loaded; a slot's own prefix is still reused, and checked.

A request stops when its client cancels it or its deadline passes, at its next token: llama.cpp
reports each decoded token to the request's thread, which answers whether to go on. A request
still waiting for its prompt to be read stops after that prompt's first token.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xllamacpp
from pydantic import BaseModel, ConfigDict, Field

from llm.errors import ModelLoadError
from llm.generation import (
    GREEDY_BELOW_TEMPERATURE,
    GenerationCancelledError,
    GenerationTimeoutError,
    PromptTooLongError,
)
from llm.tool_gbnf import tool_call_gbnf
from llm.tool_grammar import ToolGrammar, ToolGrammarError

logger = logging.getLogger(__name__)

# llama.cpp's grammar trigger type for a literal word (common_grammar_trigger_type).
_TRIGGER_WORD = 1
_COUNTERS = (
    "submitted",
    "waiting",
    "running",
    "completed",
    "cancelled",
    "timed_out",
    "failed",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
)


class LlamaCppSettings(BaseModel):
    """How the engine runs its model (the replica's share of the machine)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gguf_path: str = Field(description="The model's GGUF file (a quantized one as fetched).")
    adapters: dict[str, str] = Field(
        default_factory=dict,
        description="LoRA adapters loaded with the model, by name: GGUF LoRA files (gguf_lora).",
    )
    parallel: int = Field(8, ge=1, le=64, description="Requests decoding at once (slots).")
    context_per_slot: int = Field(
        4096, ge=64, description="Tokens of prompt and reply one request may hold."
    )
    threads: int = Field(2, ge=1, le=256, description="CPU threads for prefill and decoding.")
    prompt_cache_mb: int = Field(
        512,
        ge=0,
        description="RAM for prompts' KV moved out of slots (reused when a prompt comes back); "
        "0 turns it off. Always off with adapters (it does not record the adapter).",
    )
    warmup: bool = Field(True, description="Run one empty decode at load (first reply faster).")


@dataclass(frozen=True)
class Sampling:
    """How one reply is decoded."""

    max_tokens: int = 256
    temperature: float = 0.0  # below GREEDY_BELOW_TEMPERATURE: greedy
    top_p: float = 1.0
    seed: int | None = None  # None: llama.cpp draws one
    repetition_penalty: float = 1.0  # over prompt and reply, as transformers counts it
    stop: tuple[str, ...] = ()  # the reply ends before the first of these texts
    # A GBNF grammar, or a '%llguidance' Lark one, that the reply must match.
    grammar: str | None = None
    # Lazy: text is free until the model writes this (e.g. '<tool_call>'); the grammar then
    # applies from it on, so it must start with it. GBNF only (llama.cpp ignores laziness in
    # llguidance grammars).
    grammar_trigger: str | None = None
    banned_tokens: tuple[int, ...] = ()  # token ids the reply may never hold

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.grammar_trigger is not None:
            if not self.grammar:
                raise ValueError("grammar_trigger needs a grammar")
            if self.grammar.startswith("%llguidance"):
                raise ValueError(
                    "grammar_trigger needs a GBNF grammar: llama.cpp applies a %llguidance "
                    "grammar from the first token, whatever the trigger"
                )

    @classmethod
    def under_tool_grammar(cls, tool_grammar: ToolGrammar, **fields: Any) -> Sampling:
        """Sampling (``fields`` as the constructor takes them) whose reply keeps to
        ``tool_grammar``: its GBNF (``tool_gbnf``), lazy from ``<tool_call>`` in ``auto``. Tools
        whose grammar cannot be written raise ToolGrammarError when the grammar is strict;
        otherwise the reply decodes unconstrained (logged), as on the transformers engine."""
        try:
            gbnf = tool_call_gbnf(tool_grammar)
        except ToolGrammarError as error:
            if tool_grammar.strict:
                raise
            logger.warning("decoding without a tool grammar: %s", error)
            return cls(**fields)
        return cls(grammar=gbnf.text, grammar_trigger=gbnf.trigger, **fields)


@dataclass
class Completion:
    """A finished reply."""

    text: str
    finish_reason: str  # "stop" (end of turn or a stop text) or "length"
    prompt_tokens: int
    completion_tokens: int  # the end-of-turn token included, as transformers counts it
    cached_tokens: int  # prompt tokens whose KV was reused, not computed
    first_token_at: float | None  # time.time() its first token came back
    finished_at: float  # time.time() its last token came back
    adapters: tuple[str, ...]


class LlamaCppRequestError(ValueError):
    """llama.cpp refused the request (a grammar it cannot parse, say); the message says why."""


class LlamaCppEngineError(RuntimeError):
    """llama.cpp failed while serving a request that it had accepted."""


class Generation:
    """One submitted request: its text pieces as they come, its result, and a way to stop it."""

    def __init__(
        self,
        adapters: tuple[str, ...],
        deadline: float | None,
        on_piece: Callable[[str], None] | None,
        cancel: threading.Event | None,
    ) -> None:
        self.adapters = adapters
        self.deadline = deadline
        self._on_piece = on_piece
        self._pieces: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._cancel = cancel or threading.Event()
        self._future: Future[Completion] = Future()

    def cancel(self) -> None:
        """Stop it at its next token (or before it starts); ``result`` then raises
        GenerationCancelledError. No-op once it has finished."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> Completion:
        """The finished reply; raises what stopped it (cancel, deadline, a refused request)."""
        return self._future.result(timeout)

    def add_done_callback(self, callback: Callable[[Future[Completion]], None]) -> None:
        self._future.add_done_callback(callback)

    def __iter__(self) -> Iterator[str]:
        """Text pieces until the reply ends, then what stopped it, if anything did."""
        while (piece := self._pieces.get()) is not None:
            yield piece
        self.result()

    def _piece(self, piece: str) -> None:
        self._pieces.put(piece)
        if self._on_piece is not None:
            self._on_piece(piece)

    def _finish(self, outcome: Completion | Exception) -> None:
        if isinstance(outcome, Exception):
            self._future.set_exception(outcome)
        else:
            self._future.set_result(outcome)
        self._pieces.put(None)


@dataclass
class _Reply:
    """What a request's chunks said so far (on its own thread)."""

    pieces: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    stopped: Exception | None = None  # cancel or deadline, seen between two tokens
    first_token_at: float | None = None


class LlamaCppEngine:
    """A GGUF model and its LoRA adapters in an in-process llama.cpp server."""

    def __init__(self, settings: LlamaCppSettings) -> None:
        started = time.perf_counter()
        self.settings = settings
        self._adapter_ids = {name: index for index, name in enumerate(settings.adapters)}
        params = xllamacpp.CommonParams()
        params.model.path = _existing(settings.gguf_path, "model GGUF")
        params.lora_adapters = [
            xllamacpp.CommonAdapterLoraInfo(_existing(path, f"adapter {name!r} GGUF"), 0.0)
            for name, path in settings.adapters.items()
        ]
        params.n_parallel = settings.parallel
        params.n_ctx = settings.context_per_slot * settings.parallel
        params.cpuparams.n_threads = settings.threads
        params.cpuparams_batch.n_threads = settings.threads
        params.cache_ram_mib = 0 if settings.adapters else settings.prompt_cache_mb
        params.warmup = settings.warmup
        # Its HTTP server is not used (requests go in by function call): a free local port, and
        # a key nobody holds, so that nothing else on the host can use it.
        params.hostnames, params.port = ["127.0.0.1"], 0
        params.api_keys = [secrets.token_hex(16)]
        params.verbosity = 0
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError as error:
            raise ModelLoadError(
                f"llama.cpp cannot load {settings.gguf_path} with adapters "
                f"{sorted(settings.adapters) or 'none'}: {error}"
            ) from error
        self._workers = ThreadPoolExecutor(settings.parallel, thread_name_prefix="llamacpp")
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._cancel_all = threading.Event()  # set by close: everything in flight stops
        self._closed = False
        logger.info(
            "llama.cpp engine loaded %s (adapters: %s), %d slots x %d tokens, %d threads, in %.1fs",
            settings.gguf_path,
            ", ".join(settings.adapters) or "none",
            settings.parallel,
            settings.context_per_slot,
            settings.threads,
            time.perf_counter() - started,
        )

    @property
    def adapters(self) -> tuple[str, ...]:
        return tuple(self._adapter_ids)

    def submit(
        self,
        prompt: str | Sequence[int],
        sampling: Sampling = Sampling(),
        adapters: Sequence[str] = (),
        deadline: float | None = None,
        on_piece: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """Start decoding a rendered prompt (text, whose control-token text becomes control
        tokens, or token ids) with ``adapters`` (names in ``adapters``), none by default.
        ``deadline``: time.time() by which it must end. ``on_piece`` is called with each text
        piece, from the request's thread. Setting ``cancel`` stops it as ``Generation.cancel``
        does."""
        for adapter in adapters:
            if adapter not in self._adapter_ids:
                raise ValueError(f"adapter {adapter!r} is not loaded: one of {self.adapters}")
        if not prompt:
            raise ValueError("the prompt is empty")
        if self._closed:
            raise RuntimeError("the llama.cpp engine is closed")
        generation = Generation(tuple(adapters), deadline, on_piece, cancel)
        body = self._body(prompt, sampling, generation.adapters)
        self._count(submitted=1, waiting=1)
        self._workers.submit(self._run, generation, body)
        return generation

    def counters(self) -> dict[str, int]:
        """Requests by outcome and tokens so far; requests running and waiting now."""
        with self._lock:
            return {key: self._counts[key] for key in _COUNTERS}

    def close(self, drain: bool = False) -> None:
        """Cancel what is in flight (or, with ``drain``, let it finish), wait for it, and free
        the model."""
        if self._closed:
            return
        self._closed = True
        if not drain:
            self._cancel_all.set()
        self._workers.shutdown(wait=True)
        del self._server
        logger.info("llama.cpp engine closed (%s)", self.settings.gguf_path)

    def __enter__(self) -> LlamaCppEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _body(
        self, prompt: str | Sequence[int], sampling: Sampling, adapters: tuple[str, ...]
    ) -> dict:
        greedy = sampling.temperature < GREEDY_BELOW_TEMPERATURE
        body: dict[str, Any] = {
            "prompt": prompt if isinstance(prompt, str) else list(prompt),
            "max_tokens": sampling.max_tokens,
            "stream": True,
            "cache_prompt": True,
            # Only temperature and top_p, as the transformers engine samples.
            "temperature": 0.0 if greedy else sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": 0,
            "min_p": 0.0,
        }
        if sampling.repetition_penalty != 1.0:
            body["repeat_penalty"] = sampling.repetition_penalty
            body["repeat_last_n"] = self.settings.context_per_slot  # the whole prompt and reply
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.grammar:
            body["grammar"] = sampling.grammar
        if sampling.grammar_trigger:
            body["grammar_lazy"] = True
            body["grammar_triggers"] = [{"type": _TRIGGER_WORD, "value": sampling.grammar_trigger}]
            # A trigger that is one token must be one the sampler lets through as that token.
            body["preserved_tokens"] = [sampling.grammar_trigger]
        if sampling.banned_tokens:
            body["logit_bias"] = [[token, False] for token in sampling.banned_tokens]
        if self._adapter_ids:
            body["lora"] = [
                {"id": index, "scale": 1.0 if name in adapters else 0.0}
                for name, index in self._adapter_ids.items()
            ]
        return body

    def _run(self, generation: Generation, body: dict) -> None:
        """On a worker thread: decode one request, handing its pieces out as they come."""
        if generation.cancelled or self._cancel_all.is_set():
            self._end(generation, GenerationCancelledError(), started=False)
            return
        if generation.deadline is not None and generation.deadline <= time.time():
            self._end(generation, GenerationTimeoutError(), started=False)
            return
        self._count(waiting=-1, running=1)
        reply = _Reply()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            try:
                return self._read(chunk, generation, reply)
            except Exception as error:  # xllamacpp would swallow it and stop quietly
                reply.error = {"code": 500, "message": f"reading a chunk failed: {error!r}"}
                return True

        try:
            self._server.handle_completions(body, on_chunk)
            outcome = self._outcome(generation, reply)
        except Exception as error:
            outcome = LlamaCppEngineError(f"llama.cpp failed: {error}")
        self._end(generation, outcome, started=True)

    def _read(self, chunk: dict[str, Any], generation: Generation, reply: _Reply) -> bool:
        """Take one chunk of the stream; True stops the request."""
        if "error" in chunk or "choices" not in chunk:
            reply.error = chunk.get("error") or chunk
            return True
        now = time.time()
        reply.first_token_at = reply.first_token_at or now
        choice = chunk["choices"][0]
        if piece := choice.get("text"):
            reply.pieces.append(piece)
            generation._piece(piece)
        reply.finish_reason = choice.get("finish_reason") or reply.finish_reason
        reply.usage = chunk.get("usage") or reply.usage
        if reply.finish_reason:
            return False
        if generation.cancelled or self._cancel_all.is_set():
            reply.stopped = GenerationCancelledError()
            return True
        if generation.deadline is not None and generation.deadline <= now:
            reply.stopped = GenerationTimeoutError()
            return True
        return False

    def _outcome(self, generation: Generation, reply: _Reply) -> Completion | Exception:
        if reply.error is not None:
            return _error(reply.error)
        if reply.stopped is not None:
            return reply.stopped
        if reply.finish_reason is None:
            return LlamaCppEngineError("llama.cpp ended the stream without a finish reason")
        usage = reply.usage
        return Completion(
            text="".join(reply.pieces),
            finish_reason=reply.finish_reason,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)),
            first_token_at=reply.first_token_at,
            finished_at=time.time(),
            adapters=generation.adapters,
        )

    def _end(self, generation: Generation, outcome: Completion | Exception, started: bool) -> None:
        counts = {"running" if started else "waiting": -1}
        if isinstance(outcome, Completion):
            counts.update(
                completed=1,
                prompt_tokens=outcome.prompt_tokens,
                cached_tokens=outcome.cached_tokens,
                completion_tokens=outcome.completion_tokens,
            )
        else:
            kinds = {GenerationCancelledError: "cancelled", GenerationTimeoutError: "timed_out"}
            counts[kinds.get(type(outcome), "failed")] = 1
        self._count(**counts)
        generation._finish(outcome)

    def _count(self, **amounts: int) -> None:
        with self._lock:
            self._counts.update(amounts)


def _existing(path: str, what: str) -> str:
    if not Path(path).is_file():
        raise ModelLoadError(f"the {what} {path} is not a file")
    return str(path)


def _error(error: dict[str, Any]) -> Exception:
    message = str(error.get("message", error))
    if error.get("type") == "exceed_context_size_error":
        return PromptTooLongError(
            f"{message}: the prompt has {error.get('n_prompt_tokens')} tokens, a slot holds "
            f"{error.get('n_ctx')}; shorten the messages or raise context_per_slot"
        )
    if int(error.get("code", 500)) == 400:
        return LlamaCppRequestError(f"llama.cpp refused the request: {message}")
    return LlamaCppEngineError(f"llama.cpp failed: {message}")
