"""Generation requests and results: render a chat with the tokenizer's template, and read a
reply's tokens into its text, tool calls and finish reason (decoding is ``decode_batch``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError

from llm.control_tokens import control_token_pattern, neutralise
from llm.loading import LoadedModel
from llm.tool_grammar import ToolGrammar
from tools.tool_calls import parse_tool_calls


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
    # The tool calls the reply may make, enforced while it is decoded (``llm.tool_grammar``);
    # None decodes freely.
    tool_grammar: ToolGrammar | None = None
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
    # Decoded under a tool grammar (a grammar that could not compile in `auto` leaves it False).
    constrained: bool = False
    # What the schema check after decoding refused (ingress fills it): empty when the grammar
    # did its job.
    guard: list[str] = field(default_factory=list)


def render_prompt(tokenizer: Any, request: GenerationRequest) -> list[int]:
    """Token ids of the chat rendered by the model's own template, ending with the assistant cue.

    Text in the messages and tools that spells a control token stays text (``control_tokens``):
    only the template's own control tokens structure the prompt.
    Raises PromptRenderError for messages the template cannot render (a tool call without a
    function name, say) or text that is not valid Unicode (an unpaired surrogate from JSON).
    """
    pattern = control_token_pattern(tokenizer)
    try:
        text = tokenizer.apply_chat_template(
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
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise PromptRenderError(
            f"the messages hold text that is not valid Unicode ({error.reason} at character "
            f"{error.start}): send UTF-8 text without unpaired surrogates"
        ) from error
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) >= request.max_length:
        raise PromptTooLongError(
            f"the prompt has {len(ids)} tokens, which leaves nothing to generate within "
            f"max_length={request.max_length}: shorten the messages or raise max_length"
        )
    return ids


# Temperatures below this decode greedily: dividing logits by a denormal like 1e-45 gives inf
# probabilities that sampling cannot draw from.
GREEDY_BELOW_TEMPERATURE = 1e-5


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


def finish(
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
    text = loaded.tokenizer.decode(kept, skip_special_tokens=True)
    cut = min(
        (i for i in (text.find(s) for s in request.stop) if i >= 0),
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


def reply_ended(
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
