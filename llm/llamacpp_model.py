"""The llama.cpp engine: a model's GGUF, as fetched, served by ``LlamaCppEngine`` behind the
Engine interface, with our prompt rendering and tool-call parsing so that both engines give the
same API and the same parsed calls.

The prompt is rendered by the model's own tokenizer and chat template (control tokens neutralised,
``generation.render_prompt``) and goes to llama.cpp as token ids; the reply's text is read into
content and calls by ``generation.reply_parts``. A LoRA adapter folder served as the model is
merged into its base's GGUF once (``gguf_merge``, cached), as the transformers engine merges it:
an unmerged LoRA cost 14 % of decode speed. A request's own adapter runs beside it as a GGUF
LoRA (``gguf_lora``).

llama.cpp loads LoRA files only when its server starts. Attaching an adapter therefore starts a
second server with the new set, sends new requests to it, and closes the first once its
requests in flight have finished: nothing is dropped, and decoding goes on during the swap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gguf

from configs.atomic_files import file_lock
from configs.serving import ModelServerOptions
from configs.settings import ModelConfig, resolve_path
from llm.engine import Engine
from llm.errors import ModelLoadError
from llm.generation import (
    GenerationCancelledError,
    GenerationRequest,
    GenerationResult,
    GenerationTimeoutError,
    render_prompt,
    reply_parts,
)
from llm.gguf_files import ensure_gguf
from llm.gguf_lora import convert_lora
from llm.gguf_merge import merge_lora
from llm.llamacpp_engine import (
    Completion,
    LlamaCppEngine,
    LlamaCppRequestError,
    LlamaCppSettings,
    Sampling,
)
from llm.loading import adapter_base, load_tokenizer, model_folder
from llm.model_sources import fetched_name, model_sources
from llm.pretrained import ensure_model
from llm.tool_gbnf import tool_call_gbnf
from llm.tool_grammar import TOOL_CALL_OPEN, ToolGrammarError

logger = logging.getLogger(__name__)

GGUF_IN_FOLDER = "model.gguf"  # a full model folder's GGUF, beside its safetensors
_GRAMMAR_KEYS_KEPT = 64  # tool lists remembered to tell compiled grammars from reused ones


@dataclass(frozen=True)
class GgufModel:
    """A model as llama.cpp runs it: its GGUF, the folder of its tokenizer and chat template,
    and the peft adapter served over it (None for a full model)."""

    gguf: Path
    tokenizer_folder: Path
    tie_word_embeddings: bool
    base_model_name: str | None = None
    adapter: Path | None = None


def find_gguf_model(
    model_path: str, base_model_name: str | None, config: ModelConfig
) -> GgufModel | None:
    """Where ``model_path`` (a model fetched by name, a full model folder with a ``model.gguf``,
    or a LoRA adapter folder over one of those) has its GGUF; None when it has none. A model
    fetched by name is fetched first if the cache lacks it."""
    if _fetchable(model_path):
        return _full_model(model_path, config)
    folder = model_folder(model_path)
    if not (folder / "adapter_config.json").is_file():
        return _full_model(str(folder), config)
    base = adapter_base(folder, base_model_name)
    found = _full_model(base, config) if base else None
    if found is None:
        return None
    tokenizer = folder if (folder / "tokenizer_config.json").is_file() else found.tokenizer_folder
    return GgufModel(found.gguf, tokenizer, found.tie_word_embeddings, base, folder)


def _fetchable(name: str) -> bool:
    return name in model_sources() and not resolve_path(name).exists()


def _full_model(reference: str, config: ModelConfig) -> GgufModel | None:
    name = (
        reference
        if _fetchable(reference)
        else fetched_name(resolve_path(reference), config.cache_dir)
    )
    if name is not None:
        tied = model_sources()[name].tie_word_embeddings
        gguf_file = ensure_gguf(name, config.cache_dir)
        return GgufModel(gguf_file, ensure_model(name, config.cache_dir), tied)
    folder = resolve_path(reference)
    if not (folder / GGUF_IN_FOLDER).is_file():
        return None
    model_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return GgufModel(folder / GGUF_IN_FOLDER, folder, model_config.get("tie_word_embeddings", True))


class LlamaCppModel(Engine):
    name = "llamacpp"

    def __init__(
        self,
        found: GgufModel,
        model_path: str,
        config: ModelConfig,
        options: ModelServerOptions,
    ) -> None:
        started = time.perf_counter()
        self._found, self._model_path, self._config = found, model_path, config
        self.tokenizer = load_tokenizer(found.tokenizer_folder)
        # Banned where a request may not call tools (tool_choice none), when it is one token.
        self._tool_call_tag: int | None = self.tokenizer.get_vocab().get(TOOL_CALL_OPEN)
        self._gguf_cache = resolve_path(config.cache_dir) / "gguf"
        # The GGUF the server runs: the base's, or the base with the served adapter merged in.
        self._served_gguf = found.gguf if found.adapter is None else self._merged(found.adapter)
        # Adapters by name (GGUF LoRA files) the next server starts with; the running one may
        # hold more (detached ones stay loaded, unused, until it restarts).
        self._adapters: dict[str, Path] = {}
        self._options = options
        self._swap_lock = threading.Lock()  # one server start at a time
        self._server = self._start()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._grammar_keys: OrderedDict[str, None] = OrderedDict()
        self._grammar_seconds = 0.0
        self._loaded_at = datetime.now(UTC).isoformat()
        self._load_seconds = time.perf_counter() - started
        self._file_type, self._parameters = _describe(found.gguf, found.tie_word_embeddings)

    @classmethod
    def load(
        cls,
        model_path: str,
        base_model_name: str | None,
        config: ModelConfig,
        options: ModelServerOptions,
    ) -> LlamaCppModel:
        """Load ``model_path`` from its GGUF; ModelLoadError when it has none."""
        found = find_gguf_model(model_path, base_model_name, config)
        if found is None:
            raise ModelLoadError(
                f"model {model_path} has no GGUF for llama.cpp (a model fetched by name, a folder "
                f"with {GGUF_IN_FOLDER}, or an adapter over one): set model.engine to "
                "transformers or auto"
            )
        return cls(found, model_path, config, options)

    def submit(
        self,
        request: GenerationRequest,
        cancel: threading.Event,
        on_piece: Callable[[str], None] | None = None,
    ) -> Future[GenerationResult]:
        future: Future[GenerationResult] = Future()
        try:
            prompt = render_prompt(self.tokenizer, request)
            if request.deadline is not None and request.deadline <= time.time():
                raise GenerationTimeoutError()
            if cancel.is_set():
                raise GenerationCancelledError()
            adapters = []
            if request.adapter is not None:
                adapters.append(request.adapter.peft_name)
                if request.adapter.peft_name not in self._server.adapters:
                    # Detached by an eviction race since the replica attached it: again.
                    self.attach_adapter(request.adapter.peft_name, request.adapter.path)
            sampling, constrained = self._sampling(request, len(prompt))
            generation = self._server.submit(
                prompt, sampling, adapters, request.deadline, on_piece, cancel
            )
        except Exception as error:  # the request's own error, as its future says it
            self._count(error)
            future.set_exception(error)
            return future

        def on_done(done: Future[Completion]) -> None:
            nonlocal constrained
            try:
                completion = done.result()
            except LlamaCppRequestError as error:
                grammar = request.tool_grammar
                if not constrained or grammar is None:
                    return finish(error)
                # llama.cpp refused the tool grammar (it parses it only now): a strict one fails
                # the request (400); otherwise the reply decodes unconstrained, as on the
                # transformers engine.
                self._count_grammar(grammar.key(), failed=True, seconds=0.0)
                if grammar.strict:
                    return finish(ToolGrammarError(f"llama.cpp cannot use this grammar: {error}"))
                logger.warning("decoding without a tool grammar: llama.cpp refused it: %s", error)
                constrained = False
                free = replace(sampling, grammar=None, grammar_trigger=None)
                retry = self._server.submit(
                    prompt, free, adapters, request.deadline, on_piece, cancel
                )
                retry.add_done_callback(on_done)
                return None
            except Exception as error:
                return finish(error)
            return finish(self._result(request, completion, constrained), completion)

        def finish(
            outcome: GenerationResult | Exception, completion: Completion | None = None
        ) -> None:
            self._count(outcome, completion)
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        generation.add_done_callback(on_done)
        return future

    def prepare_tool_grammar(self, request: GenerationRequest, timeout_s: float) -> None:
        grammar = request.tool_grammar
        if grammar is None or not request.tool_calls_allowed:
            return
        key = grammar.key()
        started = time.perf_counter()
        try:
            tool_call_gbnf(grammar)  # cached by key: submit finds it written
        except ToolGrammarError:
            self._count_grammar(key, failed=True, seconds=time.perf_counter() - started)
            if grammar.strict:
                raise
            return
        self._count_grammar(key, failed=False, seconds=time.perf_counter() - started)

    def attach_adapter(self, name: str, path: str) -> None:
        lora = self._gguf_lora(resolve_path(path))
        with self._swap_lock:
            self._adapters[name] = lora
            if self._server.settings.adapters.get(name) == str(lora):
                return  # detached, not yet unloaded: the running server still has it
            self._restart(f"adapter {name} attached")

    def detach_adapter(self, name: str) -> None:
        self._adapters.pop(name, None)

    def attached_adapters(self) -> set[str]:
        return set(self._adapters)

    def reconfigure(self, options: ModelServerOptions) -> None:
        with self._swap_lock:
            if options == self._options:
                return
            self._options = options
            self._restart(f"options {options.model_dump()}")

    def info(self) -> dict[str, Any]:
        counts = self._server.counters()
        return {
            "model_path": self._model_path,
            "model_folder": str(self._served_gguf.parent),
            "base_model_name": self._found.base_model_name,
            "model_type": "LoRA" if self._found.adapter else "full",
            "loaded_at": self._loaded_at,
            "device": "cpu",
            "dtype": self._file_type,
            "quantization": f"gguf {self._file_type}",
            "prefix_cache": self._prefix_cache(),
            "parameters": self._parameters,
            "load_seconds": round(self._load_seconds, 3),
            "engine": self.name,
            # llama.cpp batches inside its server: its steps are not seen from here.
            "batches": 0,
            "batched_requests": 0,
            "generations_running": counts["running"],
            "generations_cancelled": self._counts["cancelled"],
        }

    def counters(self) -> dict[str, Any]:
        counts = self._server.counters()
        with self._lock:
            grammar: dict[str, float] = {
                key: self._counts[f"grammar_{key}"] for key in ("compiled", "cache_hits", "failed")
            }
            grammar["compile_seconds"] = self._grammar_seconds
            cancelled = self._counts["cancelled"]
        return {
            "prefix_cache": self._prefix_cache(),
            "tool_grammar": grammar,
            "cancelled": cancelled,
            "running": counts["running"],
            "waiting": counts["waiting"],
        }

    def check_health(self) -> None:
        if self._counts["failed_in_a_row"] >= 3:
            raise RuntimeError(
                f"the last {self._counts['failed_in_a_row']} llama.cpp requests all failed"
            )

    def close(self) -> None:
        self._server.close(drain=True)

    def _start(self) -> LlamaCppEngine:
        settings = LlamaCppSettings(
            gguf_path=str(self._served_gguf),
            adapters={name: str(path) for name, path in self._adapters.items()},
            parallel=self._options.max_batch_size,
            context_per_slot=self._config.max_length,
            threads=self._options.torch_threads,
            prompt_cache_mb=self._config.prefix_cache_mb,
        )
        return LlamaCppEngine(settings)

    def _restart(self, why: str) -> None:
        """Start a server with the current adapters and options, send new requests to it, and
        close the old one once its requests have finished (under the swap lock)."""
        started = time.perf_counter()
        server = self._start()
        previous, self._server = self._server, server
        threading.Thread(
            target=previous.close, kwargs={"drain": True}, name="llamacpp-drain", daemon=True
        ).start()
        logger.info(
            "llama.cpp engine restarted (%s) in %.1fs; the previous one closes once its %d "
            "requests in flight end",
            why,
            time.perf_counter() - started,
            previous.counters()["running"] + previous.counters()["waiting"],
        )

    def _merged(self, adapter: Path) -> Path:
        """The base GGUF with the peft adapter in folder ``adapter`` merged in, made once per
        adapter content into the cache."""
        lora = self._gguf_lora(adapter)
        target = self._gguf_cache / "merged" / lora.name
        with file_lock(self._gguf_cache / ".merged.lock"):  # replicas starting together
            if not target.is_file():
                merge_lora(self._found.gguf, lora, target)
        return target

    def _gguf_lora(self, adapter: Path) -> Path:
        """The peft adapter in folder ``adapter`` as a GGUF LoRA over the base GGUF, converted
        once per adapter content into the cache."""
        weights = adapter / "adapter_model.safetensors"
        if not weights.is_file():
            raise ModelLoadError(
                f"cannot load LoRA adapter {adapter}: no adapter_model.safetensors"
            )
        digest = hashlib.sha256()
        digest.update(weights.read_bytes())
        digest.update((adapter / "adapter_config.json").read_bytes())
        digest.update(str(self._found.gguf.resolve()).encode())
        target = self._gguf_cache / "lora" / f"{digest.hexdigest()[:24]}.gguf"
        target.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(target.parent / ".convert.lock"):  # replicas starting together
            if not target.is_file():
                convert_lora(adapter, target, self._found.gguf, self._found.tie_word_embeddings)
                logger.info("adapter %s converted to GGUF LoRA %s", adapter, target)
        return target

    def _sampling(self, request: GenerationRequest, prompt_tokens: int) -> tuple[Sampling, bool]:
        """The request's sampling for llama.cpp, and whether it decodes under a tool grammar."""
        fields: dict[str, Any] = {
            "max_tokens": min(request.max_new_tokens, request.max_length - prompt_tokens),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "repetition_penalty": request.repetition_penalty,
            "stop": tuple(request.stop),
        }
        if not request.tool_calls_allowed:
            banned = () if self._tool_call_tag is None else (self._tool_call_tag,)
            return Sampling(banned_tokens=banned, **fields), False
        if request.tool_grammar is None:
            return Sampling(**fields), False
        sampling = Sampling.under_tool_grammar(request.tool_grammar, **fields)
        return sampling, sampling.grammar is not None

    def _result(
        self, request: GenerationRequest, completion: Completion, constrained: bool
    ) -> GenerationResult:
        parts = reply_parts(completion.text, request, tuple(self._config.tool_call_formats))
        finish_reason = completion.finish_reason
        if parts["tool_calls"] and finish_reason == "stop":
            finish_reason = "tool_calls"
        return GenerationResult(
            text=completion.text,
            **parts,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            finish_reason=finish_reason,
            first_token_at=completion.first_token_at,
            constrained=constrained,
        )

    def _prefix_cache(self) -> dict[str, Any]:
        """llama.cpp's slots reuse a prompt's longest cached prefix: its totals in the prefix
        cache's terms (no entries or bytes: the keys and values live in the slots)."""
        with self._lock:
            return {
                "enabled": True,
                "entries": 0,
                "bytes": 0,
                "max_bytes": 0,
                "hits": self._counts["cache_hits"],
                "misses": self._counts["cache_misses"],
                "reused_tokens": self._counts["reused_tokens"],
                "computed_tokens": self._counts["computed_tokens"],
            }

    def _count(
        self, outcome: GenerationResult | Exception, completion: Completion | None = None
    ) -> None:
        with self._lock:
            if isinstance(outcome, GenerationCancelledError):
                self._counts["cancelled"] += 1
            if isinstance(outcome, RuntimeError):  # llama.cpp failed, not the request
                self._counts["failed_in_a_row"] += 1
                return
            self._counts["failed_in_a_row"] = 0
            if completion is not None:
                reused = completion.cached_tokens
                self._counts["cache_hits" if reused else "cache_misses"] += 1
                self._counts["reused_tokens"] += reused
                self._counts["computed_tokens"] += completion.prompt_tokens - reused

    def _count_grammar(self, key: str, failed: bool, seconds: float) -> None:
        with self._lock:
            self._grammar_seconds += seconds
            if failed:
                self._counts["grammar_failed"] += 1
            elif key in self._grammar_keys:
                self._counts["grammar_cache_hits"] += 1
                self._grammar_keys.move_to_end(key)
            else:
                self._counts["grammar_compiled"] += 1
                self._grammar_keys[key] = None
                if len(self._grammar_keys) > _GRAMMAR_KEYS_KEPT:
                    self._grammar_keys.popitem(last=False)


def _describe(gguf_file: Path, tied: bool) -> tuple[str, int]:
    """The GGUF's file type (its main quantisation, e.g. q4_k_m) and parameter count (a tied
    model's copy of its embeddings as output rows not counted twice)."""
    reader = gguf.GGUFReader(gguf_file)
    field = reader.get_field("general.file_type")
    file_type = "unknown"
    if field is not None:
        number = int(field.parts[field.data[0]][0])
        file_type = gguf.LlamaFileType(number).name.removeprefix("MOSTLY_").lower()
    parameters = sum(
        int(tensor.n_elements)
        for tensor in reader.tensors
        if not (tied and tensor.name == "output.weight")
    )
    return file_type, parameters
