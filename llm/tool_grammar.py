"""Tool calls valid by construction: a grammar over a reply in Qwen's tool-call format.

A request that offers tools carries a ``ToolGrammar``: the offered functions, the tool choice
and whether calls may come in parallel. ``ToolGrammarCompiler`` turns it into an xgrammar
structural tag and compiles it once per distinct grammar (an LRU cache keyed by canonical JSON,
with a time limit); the decode engine gives each constrained row a ``GrammarMatcher`` that masks
its next token. The shape enforced (Qwen2.5's chat template)::

    free text … <tool_call>\\n{"name": <offered>, "arguments": <valid>}\\n</tool_call>
                (\\n<tool_call>\\n{…}\\n</tool_call>)*  end

``auto``: text is free until ``<tool_call>``; ``required``: the reply opens with a block; a
function's name: that one only. After a block only another block (when parallel) or the end.
Objects are closed (``additionalProperties: false``) unless their schema says otherwise.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import xgrammar as xgr

logger = logging.getLogger("ray.serve")

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
# What follows the tag: the model's training format, '{"name": ..., "arguments": ...}'.
CALL_BODY = '\n{{"name": {name}, "arguments": '
CALL_CLOSE = "}\n" + TOOL_CALL_CLOSE


class ToolGrammarError(ValueError):
    """The offered tools cannot become a grammar (the library refuses a schema, or compiling
    takes longer than the limit); the message names the tool when one is to blame."""


@dataclass(frozen=True)
class ToolGrammar:
    """What a reply must look like: calls of ``functions`` (OpenAI function objects: name,
    parameters) under ``choice`` (``auto``, ``required`` or one function's name)."""

    functions: tuple[dict[str, Any], ...]
    choice: str = "auto"
    parallel: bool = True
    # A grammar that cannot be compiled fails the request (True), or the reply decodes
    # unconstrained (False: `auto` on /chat, where the tools are the app's own).
    strict: bool = True

    def key(self) -> str:
        """Canonical JSON of everything the compiled grammar depends on."""
        tools = [
            {"name": f["name"], "parameters": f.get("parameters") or {}} for f in self.functions
        ]
        return json.dumps(
            {"tools": tools, "choice": self.choice, "parallel": self.parallel},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )


def closed_schema(schema: Any) -> Any:
    """The schema with every object that does not say otherwise closed to undeclared keys (and
    arrays without ``items`` open to any item, as JSON Schema means)."""
    if isinstance(schema, list):
        return [closed_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: closed_schema(value) for key, value in schema.items()}
    is_object = closed.get("type") == "object" or "properties" in closed
    if is_object and "additionalProperties" not in closed and not _branches_declare_keys(closed):
        closed["additionalProperties"] = False
    if closed.get("type") == "array" and "items" not in closed and "prefixItems" not in closed:
        # JSON Schema lets such an array hold anything; xgrammar would allow no item at all.
        closed["items"] = {}
    return closed


def _branches_declare_keys(schema: dict[str, Any]) -> bool:
    """Whether an anyOf / oneOf / allOf branch declares properties: ``additionalProperties``
    counts only the keys declared beside it, so closing such a parent would refuse the branches'
    keys (the branches are closed themselves)."""
    branches = [b for key in ("anyOf", "oneOf", "allOf") for b in schema.get(key) or ()]
    return any(isinstance(b, dict) and "properties" in b for b in branches)


def call_arguments_schema(function: dict[str, Any]) -> Any:
    """What a call's arguments must match: the function's parameters, closed (no keys at all
    when it has none)."""
    return closed_schema(function.get("parameters") or {"type": "object", "properties": {}})


def _call_format(function: dict[str, Any]) -> dict[str, Any]:
    """One call of one function, from the newline after ``<tool_call>`` to ``</tool_call>``."""
    return {
        "type": "sequence",
        "elements": [
            {"type": "const_string", "value": CALL_BODY.format(name=json.dumps(function["name"]))},
            # Compact JSON, as the chat template writes calls: one whitespace character at most
            # between tokens keeps a confused model from spending its budget on blanks.
            # (xgrammar's strings allow raw control characters; the parser reads them.)
            {
                "type": "json_schema",
                "json_schema": call_arguments_schema(function),
                "max_whitespace_cnt": 1,
            },
            {"type": "const_string", "value": CALL_CLOSE},
        ],
    }


def called_functions(grammar: ToolGrammar) -> tuple[dict[str, Any], ...]:
    """The functions a reply may call: all offered ones, or the one ``choice`` names."""
    if grammar.choice in ("auto", "required"):
        return grammar.functions
    functions = tuple(f for f in grammar.functions if f["name"] == grammar.choice)
    if not functions:
        raise ToolGrammarError(f"tool_choice names {grammar.choice!r}, which is not offered")
    return functions


def structural_tag(grammar: ToolGrammar) -> dict[str, Any]:
    """The xgrammar structural tag for a reply under ``grammar``."""
    calls = [_call_format(function) for function in called_functions(grammar)]
    one_call = calls[0] if len(calls) == 1 else {"type": "or", "elements": calls}
    blocks: dict[str, Any] = one_call
    if grammar.parallel:
        again = {"type": "sequence", "elements": [_const("\n" + TOOL_CALL_OPEN), one_call]}
        blocks = {"type": "sequence", "elements": [one_call, {"type": "star", "content": again}]}
    if grammar.choice == "auto":
        # Free text until the first <tool_call> (a stray close tag would be a broken call);
        # from there only blocks, then the end.
        reply = {
            "type": "dispatch",
            "rules": [[TOOL_CALL_OPEN, blocks]],
            "loop": False,
            "excludes": [TOOL_CALL_CLOSE],
        }
    else:
        reply = {"type": "sequence", "elements": [_const(TOOL_CALL_OPEN), blocks]}
    return {"type": "structural_tag", "format": reply}


def _const(text: str) -> dict[str, Any]:
    return {"type": "const_string", "value": text}


class ToolGrammarCompiler:
    """Compiles tool grammars for one tokenizer; an LRU cache of the compiled ones.

    Compiling runs on a worker thread with a time limit: a schema that would take longer (a huge
    enum, deep nesting) fails with ToolGrammarError instead of holding up the replica, and the
    failure is remembered so the same tools fail fast the next time.
    """

    def __init__(
        self,
        tokenizer: Any,
        vocab_size: int,
        stop_token_ids: list[int],
        cache_size: int = 64,
        timeout_s: float = 10.0,
    ) -> None:
        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids
        )
        self.vocab_size = vocab_size
        self._compiler = xgr.GrammarCompiler(info, max_threads=1)
        self._cache: OrderedDict[str, xgr.CompiledGrammar | ToolGrammarError] = OrderedDict()
        self._cache_size, self._timeout_s = cache_size, timeout_s
        self._lock = threading.Lock()
        self._pending: dict[str, Future[xgr.CompiledGrammar | ToolGrammarError]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tool-grammar")
        # Totals since start, exported as metrics by the replica.
        self.stats = {
            "compiled": 0,
            "cache_hits": 0,
            "failed": 0,
            "compile_seconds": 0.0,
            "constrained_rows": 0,
            "unconstrained": 0,
        }

    def compile(self, grammar: ToolGrammar, timeout_s: float | None = None) -> xgr.CompiledGrammar:
        """The compiled grammar, from the cache when it was compiled before; raises
        ToolGrammarError when it cannot be compiled within ``timeout_s`` (the compiler's
        default when None)."""
        key = grammar.key()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.stats["cache_hits"] += 1
            else:
                future = self._pending.get(key)
                if future is None:
                    future = self._pool.submit(self._compile, grammar)
                    self._pending[key] = future
        if cached is None:
            try:
                limit = self._timeout_s if timeout_s is None else timeout_s
                assert future is not None  # submitted above whenever nothing was cached
                cached = future.result(timeout=limit)
            except FutureTimeout:
                cached = ToolGrammarError(
                    f"compiling the grammar of the offered tools took over {limit:g} s "
                    "(a very large enum or deeply nested schema?): simplify the tools' schemas"
                )
                self._remember(key, cached)
        if isinstance(cached, ToolGrammarError):
            raise cached
        return cached

    def close(self) -> None:
        """Wait for a compile still running (one past its time limit goes on to its end)."""
        self._pool.shutdown(wait=True)

    def mask_for(self, grammar: ToolGrammar) -> ToolCallMask | None:
        """A new row's mask. A grammar that cannot compile fails the row when ``strict``;
        otherwise the row decodes unconstrained (logged and counted), as `auto` on /chat does."""
        try:
            compiled = self.compile(grammar)
        except ToolGrammarError as error:
            if grammar.strict:
                raise
            self.stats["unconstrained"] += 1
            logger.warning("decoding without a tool grammar: %s", error)
            return None
        self.stats["constrained_rows"] += 1
        return ToolCallMask(compiled, self.vocab_size)

    def _compile(self, grammar: ToolGrammar) -> xgr.CompiledGrammar | ToolGrammarError:
        """On the worker thread: compile, and cache the grammar or the reason it failed."""
        started = time.perf_counter()
        try:
            outcome: xgr.CompiledGrammar | ToolGrammarError = self._compiler.compile_structural_tag(
                structural_tag(grammar)
            )
        except ToolGrammarError as error:
            outcome = error
        except Exception as error:  # xgrammar raises RuntimeError/ValueError with its reason
            outcome = ToolGrammarError(_blame(grammar, error))
        seconds = time.perf_counter() - started
        self.stats["compile_seconds"] += seconds
        self.stats["failed" if isinstance(outcome, ToolGrammarError) else "compiled"] += 1
        logger.info(
            "tool grammar for %s compiled in %.2f s%s",
            [f["name"] for f in grammar.functions],
            seconds,
            f": failed ({outcome})" if isinstance(outcome, ToolGrammarError) else "",
        )
        self._remember(grammar.key(), outcome)
        return outcome

    def _remember(self, key: str, outcome: xgr.CompiledGrammar | ToolGrammarError) -> None:
        with self._lock:
            self._pending.pop(key, None)
            self._cache[key] = outcome
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def _blame(grammar: ToolGrammar, error: Exception) -> str:
    """The compile error, naming the first function whose own grammar fails."""
    lines = str(error).strip().splitlines()
    # xgrammar prefixes its C++ source position: '[12:00:00] /project/cpp/x.cc:94: reason'
    reason = re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", lines[0]) if lines else type(error).__name__
    for function in grammar.functions:
        try:
            xgr.Grammar.from_structural_tag(structural_tag(ToolGrammar((function,), "auto", False)))
        except Exception:
            return (
                f"the parameters schema of tool {function['name']!r} cannot be enforced: {reason}"
            )
    return f"the offered tools cannot be enforced as a grammar: {reason}"


class ToolCallMask:
    """One row's matcher: masks the row's next-token scores and follows the tokens it picks."""

    def __init__(self, compiled: xgr.CompiledGrammar, vocab_size: int) -> None:
        self._matcher = xgr.GrammarMatcher(compiled)
        self._bitmask = xgr.allocate_token_bitmask(1, vocab_size)

    def apply(self, scores: Any) -> Any:
        """``scores`` (one row's float scores) with every token the grammar forbids at -inf; a
        copy when anything is masked."""
        if not self._matcher.fill_next_token_bitmask(self._bitmask):
            return scores
        masked = scores.clone()
        on_cpu = scores.device.type == "cpu"
        xgr.apply_token_bitmask_inplace(
            masked.unsqueeze(0),
            self._bitmask if on_cpu else self._bitmask.to(scores.device),
            backend="cpu" if on_cpu else "torch_native",  # no CUDA kernels to build here
        )
        return masked

    def accept(self, token: int) -> None:
        """Advance past the picked token; a token the mask allowed is always accepted."""
        if not self._matcher.is_terminated():
            self._matcher.accept_token(token)
