"""Tool-call accuracy of a model on held-out rows, per category, strict and lenient.

Each row's first assistant reply is decoded greedily and its calls are checked by structure
(``call_matching``). *Strict* counts a reply only when its calls are ``<tool_call>`` blocks the
Hermes parser reads; *lenient* also takes the JSON fences and bare objects a base model writes.
Categories are the Berkeley Function Calling Leaderboard's (simple, multiple, parallel,
parallel_multiple, irrelevance), plus ``chat`` (a general question with tools offered: no call is
due), ``registry`` (the app's own tools in held-out phrasings), and the hand-written sets
(``eval_sets``): ``handwritten`` requests and ``general`` questions. A reply to a ``chat`` or
``general`` question must answer it: one that refuses, in the words training rows use to refuse
(``eval_sets/refusals.yaml``), is wrong; to an ``irrelevance`` row a refusal and an answer are
both right. Replies are decoded under the offered tools' grammar, as they are served, and also
without it, to see what the grammar adds.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import threading
import unicodedata
from pathlib import Path
from typing import Any

import torch
import yaml

from llm.engine import Engine
from llm.generation import GenerationRequest, GenerationResult, PromptTooLongError, reply_parts
from llm.tool_grammar import ToolGrammar
from tools.tool_calls import TOOL_CALL_FORMATS
from train_app.batching import IGNORE_INDEX, tokenize_row
from train_app.call_matching import calls_problem
from train_app.tool_library import load_chat

MAX_MISSES = 8
CATEGORIES = (
    "simple",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "chat",
    "registry",
    "handwritten",
    "general",
)
ANSWER_CATEGORIES = ("chat", "general")  # a question to answer in words: a refusal is wrong
# Longest prompt + reply an evaluated row may have (serving's model.max_length); a longer one is
# scored wrong, its reply empty.
EVAL_MAX_LENGTH = 2048
REFUSALS_FILE = Path(__file__).resolve().parent / "eval_sets" / "refusals.yaml"


def first_turn(row: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The messages before the first assistant reply, and the calls it makes (maybe none)."""
    messages = row["messages"]
    index = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    calls = [call.get("function", call) for call in (messages[index].get("tool_calls") or [])]
    return messages[:index], [{"name": c["name"], "arguments": c["arguments"]} for c in calls]


def row_category(row: dict[str, Any]) -> str:
    """The row's own ``category``, else read from its shape (user datasets carry none)."""
    if row.get("category") in CATEGORIES:
        return row["category"]
    _, calls = first_turn(row)
    if not calls:
        return "irrelevance"
    if len(calls) > 1:
        return "parallel"
    return "simple" if len(row.get("tools") or ()) <= 1 else "multiple"


@functools.cache
def refusal_phrases() -> tuple[str, ...]:
    raw = yaml.safe_load(REFUSALS_FILE.read_text(encoding="utf-8"))
    return tuple(_folded(phrase) for phrases in raw.values() for phrase in phrases)


def is_refusal(text: str) -> bool:
    """Whether ``text`` says no offered tool can do it, as training rows word a refusal."""
    folded = _folded(text)
    return any(phrase in folded for phrase in refusal_phrases())


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")


def score_reply(
    expected: list[dict[str, Any]],
    result: GenerationResult,
    tools: list[dict[str, Any]] | None,
    category: str | None = None,
) -> tuple[bool, bool, str | None]:
    """(strict, lenient, why not) for one reply to a row of ``category``."""
    problem = calls_problem(expected, result.tool_calls, tools)
    if problem is None and result.tool_call_errors:
        problem = "; ".join(result.tool_call_errors)
    if problem is None and category in ANSWER_CATEGORIES and is_refusal(result.text):
        problem = "refused a general question"
    lenient = problem is None
    strict = lenient and not result.recovered
    if lenient and not strict:
        problem = f"calls written as {', '.join(sorted(set(result.recovered)))}, not <tool_call>"
    return strict, lenient, problem


def evaluate_tool_calls(
    engine: Engine,
    rows: list[dict[str, Any]],
    max_new_tokens: int = 128,
    tool_grammar: bool = True,
    max_length: int = EVAL_MAX_LENGTH,
) -> dict[str, Any]:
    """Score each row's first reply, decoded by ``engine`` (every row submitted at once, in
    order of tool list, so rows offering the same tools share their prompt prefix in its cache).
    ``tool_grammar``: decode calls under the offered tools' grammar, as serving does. A reply's
    calls are read in every format, so lenient accuracy sees them all."""
    order = sorted(range(len(rows)), key=lambda i: json.dumps(rows[i].get("tools"), sort_keys=True))
    tallies: dict[str, dict[str, int]] = {}
    misses: list[dict[str, Any]] = []
    turns = {index: first_turn(rows[index]) for index in order}
    requests = {
        index: GenerationRequest(
            messages=turns[index][0],
            tools=rows[index].get("tools"),
            max_new_tokens=max_new_tokens,
            max_length=max_length,
            tool_grammar=_auto_grammar(rows[index].get("tools")) if tool_grammar else None,
        )
        for index in order
    }
    futures = {index: engine.submit(requests[index], threading.Event()) for index in order}
    for index in order:
        row, (prompt, expected) = rows[index], turns[index]
        try:
            result = futures[index].result()
        except PromptTooLongError as error:
            result = GenerationResult(text="", content="", tool_call_errors=[str(error)])
        result = dataclasses.replace(
            result, **reply_parts(result.text, requests[index], TOOL_CALL_FORMATS)
        )
        category = row_category(row)
        strict, lenient, problem = score_reply(expected, result, row.get("tools"), category)
        tally = tallies.setdefault(category, {"total": 0, "strict": 0, "lenient": 0})
        tally["total"] += 1
        tally["strict"] += strict
        tally["lenient"] += lenient
        if not strict and len(misses) < MAX_MISSES:
            misses.append(
                {
                    "category": category,
                    "user": prompt[-1]["content"],
                    "expected": expected,
                    "got": result.text,
                    "why": problem,
                }
            )
    total = sum(t["total"] for t in tallies.values())
    strict_total = sum(t["strict"] for t in tallies.values())
    lenient_total = sum(t["lenient"] for t in tallies.values())
    return {
        "accuracy": _ratio(strict_total, total),
        "lenient_accuracy": _ratio(lenient_total, total),
        "correct": strict_total,
        "total": total,
        "by_category": {
            name: {
                **tally,
                "accuracy": _ratio(tally["strict"], tally["total"]),
                "lenient_accuracy": _ratio(tally["lenient"], tally["total"]),
            }
            for name, tally in sorted(tallies.items())
        },
        "misses": misses,
    }


def evaluate_with_and_without_grammar(engine: Engine, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The evaluation with the tool grammar on (as served), and under ``without_grammar`` the
    strict accuracy, overall and per category, of the same rows decoded freely."""
    result = evaluate_tool_calls(engine, rows, tool_grammar=True)
    free = evaluate_tool_calls(engine, rows, tool_grammar=False)
    result["without_grammar"] = {
        "accuracy": free["accuracy"],
        "lenient_accuracy": free["lenient_accuracy"],
        "by_category": {name: t["accuracy"] for name, t in free["by_category"].items()},
    }
    return result


def _auto_grammar(tools: list[dict[str, Any]] | None) -> ToolGrammar | None:
    functions = tuple(tool["function"] for tool in tools or () if "function" in tool)
    return ToolGrammar(functions, "auto", True, strict=False) if functions else None


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


@torch.no_grad()
def answer_perplexity(model: torch.nn.Module, tokenizer: Any) -> float:
    """Perplexity of the written answers to the held-out general questions (no tools): a LoRA
    that taught tool calls should leave how the model answers in words about where it was."""
    device = next(model.parameters()).device
    total_loss, total_tokens = 0.0, 0
    for question in (q for q in load_chat() if q.heldout):
        row = {
            "messages": [
                {"role": "user", "content": question.question},
                {"role": "assistant", "content": question.answer},
            ]
        }
        example = tokenize_row(tokenizer, row, 4096)
        ids = torch.tensor([example["input_ids"]], device=device)
        labels = torch.tensor([example["labels"]], device=device)
        logits = model(input_ids=ids).logits[0, :-1].float()
        targets = labels[0, 1:]
        loss = torch.nn.functional.cross_entropy(
            logits, targets, ignore_index=IGNORE_INDEX, reduction="sum"
        )
        total_loss += float(loss)
        total_tokens += int((targets != IGNORE_INDEX).sum())
    return round(math.exp(total_loss / max(total_tokens, 1)), 4)
