"""Render chats with the tokenizer's template and generate for a batch of requests at once."""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import torch
from jinja2 import TemplateError
from peft import PeftModel
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from llm.control_tokens import control_token_pattern, neutralise
from llm.loading import LoadedModel
from llm.prefix_cache import batch_cache, row_prefix
from tools.tool_calls import parse_tool_calls

logger = logging.getLogger(__name__)


class PromptTooLongError(ValueError):
    """The rendered prompt leaves no room to generate within max_length."""


class PromptRenderError(ValueError):
    """The messages cannot become a prompt: the chat template refuses them, or bad Unicode."""


class GenerationTimeoutError(TimeoutError):
    """The request's deadline passed before its reply was complete; its slot is free again."""

    def __init__(
        self,
        message: str = "generation did not finish within security.generation_timeout_s and was "
        "stopped: ask for fewer tokens (max_new_tokens / max_tokens) or retry later",
    ) -> None:
        super().__init__(message)  # Ray rebuilds exceptions from their args in the caller


class GenerationCancelledError(Exception):
    """The request was cancelled (its client left) before its reply was complete."""

    def __init__(self, message: str = "the request was cancelled before its reply was complete"):
        super().__init__(message)


# peft's adapter name for "no adapter" in a mixed-adapter batch (generate(adapter_names=...)).
BASE_ADAPTER = "__base__"


@dataclass(frozen=True)
class AdapterRef:
    """A registered LoRA adapter a request runs with."""

    model_id: str  # Serve's multiplexed model id: routes the request, keys the replica's LRU
    path: str

    @property
    def peft_name(self) -> str:
        """Its name inside the replica's PeftModel (module names allow no '.' or '@')."""
        return "lora_" + hashlib.sha1(self.model_id.encode()).hexdigest()[:16]


@dataclass
class GenerationRequest:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    max_new_tokens: int = 256
    max_length: int = 2048
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # Text the reply must start with (e.g. '<tool_call>' to force a call); part of the result.
    prefill: str = ""
    # False for tool_choice "none": the reply may not open a <tool_call>, even unprompted.
    tool_calls_allowed: bool = True
    # Wall-clock time (time.time()) at which decoding stops; None = no deadline.
    deadline: float | None = None
    adapter: AdapterRef | None = None


@dataclass
class GenerationResult:
    text: str
    content: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_call_errors: list[str] = field(default_factory=list)
    # Format of each call not read from <tool_call> tags (json_block, bare_json), in order.
    recovered: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    # Wall-clock time (time.time()) its first new token was decoded; None if none was.
    first_token_at: float | None = None


def render_prompt(loaded: LoadedModel, request: GenerationRequest) -> list[int]:
    """Token ids of the chat rendered by the model's own template, ending with the assistant cue.

    Text in the messages and tools that spells a control token stays text (``control_tokens``):
    only the template's own control tokens structure the prompt.
    Raises PromptRenderError for messages the template cannot render (a tool call without a
    function name, say) or text that is not valid Unicode (an unpaired surrogate from JSON).
    """
    pattern = control_token_pattern(loaded.tokenizer)
    try:
        text = loaded.tokenizer.apply_chat_template(
            neutralise(request.messages, pattern),
            tools=neutralise(request.tools, pattern) or None,
            add_generation_prompt=True,
            tokenize=False,
        )
    except TemplateError as error:
        raise PromptRenderError(
            f"the chat template cannot render these messages: {error.message}"
        ) from error
    try:
        (text + request.prefill).encode("utf-8")
    except UnicodeEncodeError as error:
        raise PromptRenderError(
            f"the messages hold text that is not valid Unicode ({error.reason} at character "
            f"{error.start}): send UTF-8 text without unpaired surrogates"
        ) from error
    ids = loaded.tokenizer(text + request.prefill, add_special_tokens=False)["input_ids"]
    if len(ids) >= request.max_length:
        raise PromptTooLongError(
            f"the prompt has {len(ids)} tokens, which leaves nothing to generate within "
            f"max_length={request.max_length}: shorten the messages or raise max_length"
        )
    return ids


class RowLimits(StoppingCriteria):
    """Stops each row of a batch at its own token budget, its deadline or its cancellation,
    whichever comes first, so one long, stuck or abandoned request neither holds the others nor
    outlives its deadline or its client. A stopped row only pads: the other rows decode exactly
    the tokens they would have had.

    ``stopped_at`` records the sequence length at which a row's deadline passed;
    ``cancelled`` the rows stopped because their event was set.
    """

    def __init__(
        self,
        ends: list[int | None],
        deadlines: list[float | None],
        cancels: Sequence[threading.Event | None] | None = None,
    ) -> None:
        # float64: in float32 an epoch time is rounded to 128 s.
        self.ends = torch.tensor([math.inf if e is None else e for e in ends], dtype=torch.float64)
        self.deadlines = torch.tensor(
            [math.inf if d is None else d for d in deadlines], dtype=torch.float64
        )
        self.cancels = list(cancels or [None] * len(ends))
        self.stopped_at: dict[int, int] = {}
        self.first_token_at: float | None = None  # generate calls this after each new token
        self.cancelled: set[int] = set()

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        now = time.time()
        self.first_token_at = self.first_token_at or now
        expired = self.deadlines <= now
        for row in expired.nonzero().flatten().tolist():
            self.stopped_at.setdefault(row, input_ids.shape[1])
        self.cancelled.update(row for row, c in enumerate(self.cancels) if c and c.is_set())
        left = torch.zeros_like(expired)
        left[list(self.cancelled)] = True
        return (expired | left | (self.ends <= input_ids.shape[1])).to(input_ids.device)


# Temperatures below this decode greedily: dividing logits by a denormal like 1e-45 gives inf
# probabilities that sampling cannot draw from.
GREEDY_BELOW_TEMPERATURE = 1e-5


def _sampling_key(request: GenerationRequest) -> tuple[float, float, int, float]:
    """Requests that decode alike share one generate call; greedy ignores top_p and seed.

    A seed makes sampling repeatable for the same batch composition; requests with different
    seeds go to different generate calls.
    """
    if request.temperature < GREEDY_BELOW_TEMPERATURE:
        return (0.0, 1.0, -1, request.repetition_penalty)
    seed = -1 if request.seed is None else request.seed
    return (request.temperature, request.top_p, seed, request.repetition_penalty)


def _sampling_kwargs(request: GenerationRequest) -> dict[str, Any]:
    """generate() arguments: greedy at temperature ~0 (fast on CPU), nucleus sampling above."""
    penalty = {"repetition_penalty": request.repetition_penalty}
    if request.temperature >= GREEDY_BELOW_TEMPERATURE:
        return {
            "do_sample": True,
            "temperature": request.temperature,
            "top_p": request.top_p,
            **penalty,
        }
    return {"do_sample": False, **penalty}


def _adapter_kwargs(loaded: LoadedModel, requests: list[GenerationRequest]) -> dict[str, Any]:
    """generate()'s per-row adapters once adapters are attached; none on a plain model."""
    if not isinstance(loaded.model, PeftModel):
        if any(r.adapter for r in requests):
            raise RuntimeError("a request asks for an adapter, but none is attached")
        return {}
    return {"adapter_names": [r.adapter.peft_name if r.adapter else BASE_ADAPTER for r in requests]}


def _eos_ids(loaded: LoadedModel) -> set[int]:
    eos = loaded.model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    ids.add(loaded.tokenizer.eos_token_id)
    return ids


def reply_parts(
    text: str, request: GenerationRequest, formats: Sequence[str] = ("hermes",)
) -> dict[str, Any]:
    """The content, tool calls, call errors and recovered call formats of a reply's text, read
    in ``formats`` (the model's ``tool_call_formats``). A request that may not call tools
    (``tool_calls_allowed``) gets a call written anyway as text, never as a call."""
    if not request.tool_calls_allowed:
        return {"content": text, "tool_calls": [], "tool_call_errors": [], "recovered": []}
    tool_names = [tool["function"]["name"] for tool in request.tools or () if "function" in tool]
    parsed = parse_tool_calls(text, formats, tool_names)
    return {
        "content": parsed.content,
        "tool_calls": [call.to_dict() for call in parsed.tool_calls],
        "tool_call_errors": parsed.errors,
        "recovered": parsed.recovered,
    }


def _finish(
    loaded: LoadedModel,
    request: GenerationRequest,
    new_ids: list[int],
    budget: int,
    eos_ids: set[int],
    prompt_len: int,
) -> GenerationResult:
    new_ids = new_ids[:budget]
    stop_at = next((i for i, tok in enumerate(new_ids) if tok in eos_ids), None)
    finish_reason = "length" if stop_at is None else "stop"
    kept = new_ids if stop_at is None else new_ids[:stop_at]
    text = request.prefill + loaded.tokenizer.decode(kept, skip_special_tokens=True)
    cut = min(
        (i for i in (text.find(s, len(request.prefill)) for s in request.stop) if i >= 0),
        default=None,
    )
    if cut is not None:
        text, finish_reason = text[:cut], "stop"
    parts = reply_parts(text, request, loaded.tool_call_formats)
    if parts["tool_calls"] and finish_reason == "stop":
        finish_reason = "tool_calls"
    return GenerationResult(
        text=text,
        **parts,
        prompt_tokens=prompt_len,
        completion_tokens=len(kept) + (0 if stop_at is None else 1),
        finish_reason=finish_reason,
    )


def _ended(
    loaded: LoadedModel,
    request: GenerationRequest,
    new_ids: list[int],
    budget: int,
    eos_ids: set[int],
) -> bool:
    """Whether a reply was complete with these tokens (eos, its budget or a stop text)."""
    if len(new_ids) >= budget or any(token in eos_ids for token in new_ids):
        return True
    text = loaded.tokenizer.decode(new_ids, skip_special_tokens=True)
    return any(stop in text for stop in request.stop)


class BannedTokens(LogitsProcessor):
    """Gives row ``i`` of a batch no chance to emit any token of ``banned[i]``."""

    def __init__(self, banned: list[list[int]]) -> None:
        self.banned = banned

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, ids in enumerate(self.banned):
            if ids:
                scores[row, ids] = -math.inf
        return scores


def _logits_processors(loaded: LoadedModel, requests: list[GenerationRequest]) -> dict[str, Any]:
    """``logits_processor`` that keeps requests without tool calls from opening one.

    Only a tokenizer with ``<tool_call>`` as one token can be held to that; with any other, a
    call the model writes anyway stays text (``reply_parts``).
    """
    tag = loaded.tokenizer.convert_tokens_to_ids("<tool_call>")
    if not isinstance(tag, int) or tag == loaded.tokenizer.unk_token_id:
        return {}
    banned = [[] if r.tool_calls_allowed else [tag] for r in requests]
    return {"logits_processor": LogitsProcessorList([BannedTokens(banned)])} if any(banned) else {}


def _cached_prefixes(
    loaded: LoadedModel, requests: list[GenerationRequest], prompts: list[list[int]]
) -> dict[str, Any]:
    """``cache`` for generate: every prompt but its last token, from the prefix cache
    (extended where it has less); nothing when the cache is off."""
    if not loaded.prefix_cache.enabled:
        return {}
    rows = []
    for request, prompt in zip(requests, prompts, strict=True):
        adapter = _adapter_kwargs(loaded, [request])
        name = adapter["adapter_names"][0] if adapter else None
        rows.append(row_prefix(loaded.model, loaded.prefix_cache, name, prompt, adapter))
    width = max(len(prompt) for prompt in prompts) - 1
    return {"cache": batch_cache(rows, width)}


@torch.inference_mode()
def generate_batch(
    loaded: LoadedModel,
    requests: list[GenerationRequest],
    cancels: Sequence[threading.Event] | None = None,
) -> list[GenerationResult | Exception]:
    """Generate for every request; a request that cannot run gets its exception in its slot.

    ``cancels[i]`` set (request i's client left) stops row i at its next token, or keeps it
    from starting: its slot gets a GenerationCancelledError.
    """
    results: list[GenerationResult | Exception] = [None] * len(requests)  # type: ignore[list-item]
    cancels = list(cancels or [threading.Event() for _ in requests])
    prompts: dict[int, list[int]] = {}
    for index, request in enumerate(requests):
        if cancels[index].is_set():
            results[index] = GenerationCancelledError()
            continue
        if request.deadline is not None and request.deadline <= time.time():
            results[index] = GenerationTimeoutError()  # it waited in the queue past its deadline
            continue
        try:
            prompts[index] = render_prompt(loaded, request)
        except Exception as error:  # a bad template input must fail only its own request
            results[index] = error

    eos_ids = _eos_ids(loaded)
    runnable = sorted(prompts, key=lambda i: _sampling_key(requests[i]))
    for key, group in groupby(runnable, key=lambda i: _sampling_key(requests[i])):
        indices = list(group)
        budgets = {
            i: min(requests[i].max_new_tokens, requests[i].max_length - len(prompts[i]))
            for i in indices
        }
        batch = loaded.tokenizer.pad(
            {"input_ids": [prompts[i] for i in indices]}, padding=True, return_tensors="pt"
        ).to(loaded.device)
        batch.update(
            _cached_prefixes(loaded, [requests[i] for i in indices], [prompts[i] for i in indices])
        )
        seed = key[2]
        sampling = _sampling_kwargs(requests[indices[0]])
        if seed >= 0:
            torch.manual_seed(seed)
        prompt_width = batch["input_ids"].shape[1]
        limits = RowLimits(
            [prompt_width + budgets[i] for i in indices],
            [requests[i].deadline for i in indices],
            [cancels[i] for i in indices],
        )
        output = loaded.model.generate(
            **batch,
            max_new_tokens=max(budgets.values()),
            pad_token_id=loaded.tokenizer.pad_token_id,
            eos_token_id=sorted(eos_ids),
            stopping_criteria=StoppingCriteriaList([limits]),
            **_adapter_kwargs(loaded, [requests[i] for i in indices]),
            **_logits_processors(loaded, [requests[i] for i in indices]),
            **sampling,
        )
        for row, i in enumerate(indices):
            if row in limits.cancelled:
                results[i] = GenerationCancelledError()
                continue
            new_ids = output[row, prompt_width:].tolist()
            stopped_at = limits.stopped_at.get(row)
            if stopped_at is not None and not _ended(
                loaded, requests[i], new_ids[: stopped_at - prompt_width], budgets[i], eos_ids
            ):
                results[i] = GenerationTimeoutError()
                continue
            results[i] = _finish(loaded, requests[i], new_ids, budgets[i], eos_ids, len(prompts[i]))
            results[i].first_token_at = limits.first_token_at
    logger.debug("generated a batch of %d requests", len(requests))
    return results


def stream_generate(
    loaded: LoadedModel, request: GenerationRequest, cancel: threading.Event | None = None
) -> Iterator[str]:
    """Yield decoded text pieces of one request as they are produced (unbatched).

    The prefill is yielded first so that a stream and a plain reply carry the same text.
    ``cancel`` set stops decoding at the next token; the pieces then end without an error (the
    reader is gone). Closing the iterator early stops decoding too.
    """
    prompt = render_prompt(loaded, request)
    streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
    budget = min(request.max_new_tokens, request.max_length - len(prompt))
    sampling = _sampling_kwargs(request)
    adapters = _adapter_kwargs(loaded, [request])
    if request.seed is not None:
        torch.manual_seed(request.seed)

    cancel = cancel or threading.Event()
    limits = RowLimits([None], [request.deadline], [cancel])

    def run() -> None:
        with torch.inference_mode():
            cached = _cached_prefixes(loaded, [request], [prompt])
            loaded.model.generate(
                **cached,
                input_ids=torch.tensor([prompt], device=loaded.device),
                attention_mask=torch.ones((1, len(prompt)), dtype=torch.long, device=loaded.device),
                max_new_tokens=budget,
                pad_token_id=loaded.tokenizer.pad_token_id,
                eos_token_id=sorted(_eos_ids(loaded)),
                streamer=streamer,
                stopping_criteria=StoppingCriteriaList([limits]),
                **adapters,
                **_logits_processors(loaded, [request]),
                **sampling,
            )

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        if request.prefill:
            yield request.prefill
        for piece in streamer:
            if piece:
                yield piece
    finally:
        cancel.set()  # a reader that stops early leaves no decoding behind
        worker.join()
    if limits.stopped_at and not limits.cancelled:
        raise GenerationTimeoutError()  # the client must not take a cut reply for a whole one
