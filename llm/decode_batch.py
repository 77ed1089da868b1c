"""Continuous batching: requests join a running decode batch at any step and leave it when done.

A joining row's prompt is prefilled alone, through the prefix cache (a shared system prompt and
tool list is computed once), and its logits give the row's first token; the row then decodes in
the next step beside every other row. All rows live in one key/value cache,
left-padded to the widest: the attention mask hides the padding and each row's positions count
only its own tokens, so a row decodes the tokens it would decode alone, whoever joins or leaves.
A finished row leaves at once and frees its slot; nothing waits for the longest reply.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from peft import PeftModel
from transformers import DynamicCache

from llm.generation import (
    BASE_ADAPTER,
    GREEDY_BELOW_TEMPERATURE,
    GenerationCancelledError,
    GenerationRequest,
    GenerationResult,
    GenerationTimeoutError,
    PromptRenderError,
    finish,
    render_prompt,
    reply_ended,
)
from llm.kv_cache import LayerKV, batch_cache
from llm.loading import LoadedModel
from llm.prefix_cache import row_prefill
from llm.tool_grammar import ToolCallMask


@dataclass
class Row:
    """One request decoding in a batch."""

    request: GenerationRequest
    prompt: list[int]
    budget: int  # most new tokens it may get
    cancel: threading.Event
    adapter: str | None  # its peft adapter name; None on a model without adapters
    generator: torch.Generator | None  # a seeded request's own random numbers
    on_token: Callable[[int], None] | None = None  # told each new token (a stream's reader)
    mask: ToolCallMask | None = None  # its tool grammar's mask; None decodes freely
    new_ids: list[int] = field(default_factory=list)
    first_token_at: float | None = None

    def add(self, token: int, now: float) -> None:
        self.new_ids.append(token)
        self.first_token_at = self.first_token_at or now
        if self.on_token is not None:
            self.on_token(token)


def new_row(
    loaded: LoadedModel,
    request: GenerationRequest,
    cancel: threading.Event,
    on_token: Callable[[int], None] | None = None,
) -> Row:
    """A request ready to join a batch. Raises what makes it unable to run: its prompt cannot be
    rendered, is too long, or its deadline has passed."""
    if request.deadline is not None and request.deadline <= time.time():
        raise GenerationTimeoutError()  # it waited in the queue past its deadline
    prompt = render_prompt(loaded.tokenizer, request)
    if not prompt:
        raise PromptRenderError("the chat template rendered no tokens for these messages")
    if isinstance(loaded.model, PeftModel):
        adapter = request.adapter.peft_name if request.adapter else BASE_ADAPTER
    elif request.adapter:
        raise RuntimeError("a request asks for an adapter, but none is attached")
    else:
        adapter = None
    generator = None
    if request.seed is not None and request.temperature >= GREEDY_BELOW_TEMPERATURE:
        generator = torch.Generator(device=loaded.device).manual_seed(request.seed)
    budget = min(request.max_new_tokens, request.max_length - len(prompt))
    mask = None
    if request.tool_grammar is not None and request.tool_calls_allowed:
        mask = loaded.tool_grammars().mask_for(request.tool_grammar)
    return Row(request, prompt, budget, cancel, adapter, generator, on_token, mask)


class DecodeBatch:
    """The rows of one loaded model decoding together; ``join`` and ``step`` from one thread."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.rows: list[Row] = []
        self._cache: DynamicCache | None = None
        self._mask: torch.Tensor | None = None  # [rows, width]: 1 a token, 0 left padding
        self._eos = loaded.eos_ids()
        tag = loaded.tokenizer.convert_tokens_to_ids("<tool_call>")
        single_token = isinstance(tag, int) and tag != loaded.tokenizer.unk_token_id
        self._tool_call_tag = tag if single_token else None

    @torch.inference_mode()
    def join(self, rows: list[Row]) -> list[tuple[Row, GenerationResult | Exception]]:
        """Prefill the rows' prompts, which gives each its first token, and add them to the
        batch; returns the rows that ended with that token (they never join)."""
        if not rows:
            return []
        loaded = self.loaded
        prefills = [
            row_prefill(
                loaded.model,
                loaded.prefix_cache,
                row.adapter,
                row.prompt,
                self._adapter_kwargs([row]),
            )
            for row in rows
        ]
        tokens = self._pick(torch.stack([logits for _, logits in prefills]), rows)
        now = time.time()
        ended, joining, layers = [], [], []
        for row, token, (row_layers, _) in zip(rows, tokens, prefills, strict=True):
            row.add(token, now)
            outcome = self._outcome(row, now)
            if outcome is None:
                joining.append(row)
                layers.append(row_layers)
            else:
                ended.append((row, outcome))
        if joining:
            self._merge(joining, layers)
        return ended

    @torch.inference_mode()
    def step(self) -> list[tuple[Row, GenerationResult | Exception]]:
        """Decode one token for every row; returns the rows that ended, which leave the batch.

        Rows whose clients left are taken out first, without decoding: once a cancel is set, the
        row's adapter may be detached.
        """
        cancelled = [index for index, row in enumerate(self.rows) if row.cancel.is_set()]
        left: list[tuple[Row, GenerationResult | Exception]] = [
            (self.rows[index], GenerationCancelledError()) for index in cancelled
        ]
        self._drop(cancelled)
        if not self.rows:
            return left
        assert self._mask is not None  # set whenever the batch has rows
        device = self.loaded.device
        inputs = torch.tensor([[row.new_ids[-1]] for row in self.rows], device=device)
        mask = torch.cat([self._mask, torch.ones_like(self._mask[:, :1])], dim=1)
        output = self.loaded.model(
            input_ids=inputs,
            attention_mask=mask,
            position_ids=self._mask.sum(dim=1, keepdim=True),
            cache=self._cache,
            use_cache=True,
            **self._adapter_kwargs(self.rows),
        )
        self._mask = mask
        tokens = self._pick(output.logits[:, -1, :].float(), self.rows)
        now = time.time()
        ended = []
        for index, (row, token) in enumerate(zip(self.rows, tokens, strict=True)):
            row.add(token, now)
            outcome = self._outcome(row, now)
            if outcome is not None:
                ended.append((index, row, outcome))
        self._drop([index for index, _, _ in ended])
        return left + [(row, outcome) for _, row, outcome in ended]

    def _merge(self, rows: list[Row], layers: list[LayerKV]) -> None:
        """Add prefilled rows: everyone's keys and values left-padded to the widest."""
        widths = [len(row.prompt) for row in rows]
        width = max(widths + [0 if self._mask is None else self._mask.shape[1]])
        parts = ([] if self._cache is None else [self._layers()]) + layers
        self._cache = batch_cache(parts, width)
        masks = [] if self._mask is None else [_pad_left(self._mask, width)]
        for row_width in widths:
            ones = torch.ones(1, row_width, dtype=torch.long, device=self.loaded.device)
            masks.append(_pad_left(ones, width))
        self._mask = torch.cat(masks)
        self.rows += rows

    def _outcome(self, row: Row, now: float) -> GenerationResult | Exception | None:
        """The row's result once it ended (eos, its budget, a stop text), a timeout if its
        deadline passed first; None while it goes on."""
        if reply_ended(self.loaded, row.request, row.new_ids, row.budget, self._eos):
            result = finish(
                self.loaded, row.request, row.new_ids, row.budget, self._eos, len(row.prompt)
            )
            result.first_token_at = row.first_token_at
            result.constrained = row.mask is not None
            return result
        if row.request.deadline is not None and row.request.deadline <= now:
            return GenerationTimeoutError()
        return None

    def _pick(self, logits: torch.Tensor, rows: list[Row]) -> list[int]:
        """Each row's next token under its own sampling settings (``logits[i]`` is row i's); a
        row with a tool grammar picks among the tokens it allows, and its matcher follows."""
        tokens = logits.argmax(dim=-1).tolist()  # right for the plain greedy rows
        for index, row in enumerate(rows):
            tokens[index] = self._pick_one(logits[index], row, tokens[index])
            if row.mask is not None:
                row.mask.accept(tokens[index])
        return tokens

    def _pick_one(self, scores: torch.Tensor, row: Row, argmax: int) -> int:
        request = row.request
        banned = not request.tool_calls_allowed and self._tool_call_tag is not None
        greedy = request.temperature < GREEDY_BELOW_TEMPERATURE
        if greedy and not banned and row.mask is None and request.repetition_penalty == 1.0:
            return argmax
        if request.repetition_penalty != 1.0:
            seen = torch.tensor(row.prompt + row.new_ids, device=scores.device)
            picked = scores[seen]
            scores = scores.clone()
            scores[seen] = torch.where(
                picked < 0,
                picked * request.repetition_penalty,
                picked / request.repetition_penalty,
            )
        if banned:
            scores = scores.clone()
            scores[self._tool_call_tag] = -math.inf
        if row.mask is not None:
            scores = row.mask.apply(scores)
        if greedy:
            return int(scores.argmax())
        probs = _top_p(scores / request.temperature, request.top_p).softmax(dim=-1)
        return int(torch.multinomial(probs, 1, generator=row.generator))

    def _adapter_kwargs(self, rows: list[Row]) -> dict[str, Any]:
        if rows and rows[0].adapter is not None:
            return {"adapter_names": [row.adapter for row in rows]}
        return {}

    def _layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        assert self._cache is not None  # set whenever the batch has rows
        return [(layer.keys, layer.values) for layer in self._cache.layers]

    def _drop(self, indices: list[int]) -> None:
        """Remove rows, and the padding columns no row left needs."""
        if not indices:
            return
        gone = set(indices)
        keep = [i for i in range(len(self.rows)) if i not in gone]
        self.rows = [self.rows[i] for i in keep]
        if not keep:
            self._cache = self._mask = None
            return
        assert self._cache is not None and self._mask is not None  # the batch had rows
        mask = self._mask[keep]
        first = int(mask.any(dim=0).nonzero()[0])
        self._mask = mask[:, first:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[keep, :, first:]
            layer.values = layer.values[keep, :, first:]


def generate_batch(
    loaded: LoadedModel,
    requests: list[GenerationRequest],
    cancels: Sequence[threading.Event] | None = None,
) -> list[GenerationResult | Exception]:
    """Generate for every request in one batch; a request that cannot run gets its exception in
    its slot. ``cancels[i]`` set (request i's client left) stops row i at its next token, or
    keeps it from starting: its slot gets a GenerationCancelledError."""
    results: list[GenerationResult | Exception | None] = [None] * len(requests)
    cancels = list(cancels or [threading.Event() for _ in requests])
    slots: dict[int, int] = {}  # id of a row -> its request's index
    batch = DecodeBatch(loaded)
    rows = []
    for index, request in enumerate(requests):
        if cancels[index].is_set():
            results[index] = GenerationCancelledError()
            continue
        try:
            row = new_row(loaded, request, cancels[index])
        except Exception as error:  # a bad template input must fail only its own request
            results[index] = error
            continue
        rows.append(row)
        slots[id(row)] = index
    for row, outcome in batch.join(rows):
        results[slots[id(row)]] = outcome
    while batch.rows:
        for row, outcome in batch.step():
            results[slots[id(row)]] = outcome
    return results  # type: ignore[return-value]


class IncrementalText:
    """The text of a reply's tokens as they come, handed out piece by piece (for streams).

    A token that ends inside a multi-byte character adds nothing until the character is whole.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._sent = ""

    def add(self, token: int) -> str:
        """The text the token adds (special tokens add none)."""
        self._ids.append(token)
        text = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        piece, self._sent = text[len(self._sent) :], text
        return piece

    def rest(self) -> str:
        """What is held back at the end of a reply (a character its last tokens left unfinished,
        shown as the plain reply shows it)."""
        text = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        piece, self._sent = text[len(self._sent) :], text
        return piece


def _pad_left(tensor: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(tensor, (width - tensor.shape[-1], 0))


def _top_p(scores: torch.Tensor, top_p: float) -> torch.Tensor:
    """Scores outside the smallest set of tokens whose probability reaches ``top_p`` set to -inf
    (the most likely token always stays)."""
    if top_p >= 1.0:
        return scores
    ordered, order = scores.sort(descending=True)
    before = ordered.softmax(dim=-1).cumsum(dim=-1) - ordered.softmax(dim=-1)
    drop = before >= top_p
    drop[0] = False
    return scores.index_fill(0, order[drop], -math.inf)
