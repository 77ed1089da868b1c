"""The turns of rows for any schema, one category each, from a tool set (the operations of one
API, or one MCP server's tools): the benchmarks' categories, and general questions.

- ``simple``: one tool offered, one call;
- ``multiple``: the tool and 1-3 of its siblings (the same API's get/list/update operations on
  the same thing first), one call;
- ``parallel``: one tool called two or three times in one turn;
- ``parallel_multiple``: two tools (and maybe a third call) in one turn;
- ``irrelevance``: a request for a tool that is not offered while its siblings are; the answer
  says no offered tool does it, in words;
- ``chat``: a general question with tools offered, answered in words (never refused).

Follow-up turns of a training row stay under the first turn's tool list.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from train_app.schema_rows import phrasing
from train_app.schema_rows.phrasing import Patterns
from train_app.schema_rows.pools import words_of
from train_app.schema_rows.spoken import Language
from train_app.schema_rows.tool_request import Request, make_request
from train_app.schema_rows.values import NoValue
from train_app.tool_library import ChatQuestion

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance", "chat")
MAX_OFFERED = 4
_VERSION_WORDS = {"v1", "v2", "v3", "v4", "beta", "alpha", "legacy", "new", "old"}


@dataclass(frozen=True)
class ToolSet:
    """Tools offered together: one API's operations or one server's tools."""

    name: str
    tools: tuple[dict[str, Any], ...]
    examples: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    runs: bool = False  # the registry runs them, so their results are real


@dataclass
class Call:
    tool: dict[str, Any]
    arguments: dict[str, Any]
    result: Any = None
    error: str | None = None
    has_result: bool = False

    @property
    def name(self) -> str:
        return self.tool["function"]["name"]


@dataclass
class Exchange:
    category: str
    language: Language
    text: str
    calls: list[Call] = field(default_factory=list)
    answer: str | None = None  # turns without calls; a call's answer is written from its result
    answered: bool = False  # the calls' results come back and are answered


@dataclass(frozen=True)
class Context:
    rng: random.Random
    language: Language
    patterns: Patterns
    others: Sequence[ToolSet]  # where distractors come from when a set has too few tools
    questions: Sequence[ChatQuestion]  # general questions in ``language``
    siblings_in_parallel: bool = True


def first_turn(
    ctx: Context, tools: ToolSet, category: str
) -> tuple[list[dict[str, Any]], Exchange]:
    """The tool list a row offers and its first turn, of ``category``."""
    rng = ctx.rng
    target = rng.choice(tools.tools)
    if category == "simple":
        return [target], _call_turn(ctx, tools, "simple", [target])
    if category == "multiple":
        offered = [target, *_distractors(ctx, tools, target, rng.randint(1, 3))]
        return _shuffled(rng, offered), _call_turn(ctx, tools, "multiple", [target])
    if category == "parallel":
        target = _with_parameters(rng, tools.tools)
        offered = [target]
        if ctx.siblings_in_parallel and rng.random() < 0.4:
            offered += _distractors(ctx, tools, target, 1)
        count = rng.choice((2, 2, 3))
        return _shuffled(rng, offered), _call_turn(ctx, tools, "parallel", [target] * count)
    if category == "parallel_multiple":
        other = _distractors(ctx, tools, target, 1)[0]
        called = [target, other] + ([rng.choice((target, other))] if rng.random() < 0.25 else [])
        offered = [target, other]
        if rng.random() < 0.5:
            offered += _distractors(ctx, tools, target, 1, exclude=offered)
        return _shuffled(rng, offered), _call_turn(ctx, tools, "parallel_multiple", called)
    if category == "irrelevance":
        offered = _distractors(ctx, tools, target, rng.randint(1, 3))
        return _shuffled(rng, offered), _irrelevance_turn(ctx, tools, target, offered)
    if category == "chat":
        offered = rng.sample(tools.tools, rng.randint(1, min(3, len(tools.tools))))
        return offered, _chat_turn(ctx)
    raise ValueError(f"unknown category {category!r} (one of {', '.join(CATEGORIES)})")


def follow_up(
    ctx: Context, tools: ToolSet, offered: list[dict[str, Any]], category: str
) -> Exchange:
    """A later turn under ``offered``: a call, parallel calls, a request none of them serves
    (another tool of the set), or a general question."""
    rng = ctx.rng
    if category in ("simple", "multiple"):
        kind = "simple" if len(offered) == 1 else "multiple"
        return _call_turn(ctx, tools, kind, [rng.choice(offered)])
    if category in ("parallel", "parallel_multiple"):
        if category == "parallel_multiple" and len(offered) > 1:
            return _call_turn(ctx, tools, category, rng.sample(offered, 2))
        return _call_turn(ctx, tools, "parallel", [_with_parameters(rng, offered)] * 2)
    if category == "irrelevance":
        absent = [t for t in tools.tools if all(not _same_job(t, o) for o in offered)]
        if absent:
            return _irrelevance_turn(ctx, tools, rng.choice(absent), offered)
    return _chat_turn(ctx)


def _request(ctx: Context, tools: ToolSet, tool: dict[str, Any]) -> Request:
    function = tool["function"]
    examples = tools.examples.get(function["name"], ())
    return make_request(ctx.rng, function, ctx.language, ctx.patterns, examples)


def _call_turn(
    ctx: Context, tools: ToolSet, category: str, called: list[dict[str, Any]]
) -> Exchange:
    calls: list[Call] = []
    texts: list[str] = []
    for tool in called:
        repeated = called.count(tool) > 1
        for _ in range(4):  # the same tool twice asks for other values, and for some
            request = _request(ctx, tools, tool)
            others = [c.arguments for c in calls if c.tool is tool]
            if not repeated or (request.arguments and request.arguments not in others):
                break
        else:
            raise NoValue("no distinct values for a repeated call")
        calls.append(Call(tool, request.arguments))
        texts.append(request.text)
    return Exchange(category, ctx.language, phrasing.together(ctx.rng, texts, ctx.language), calls)


def _irrelevance_turn(
    ctx: Context, tools: ToolSet, asked: dict[str, Any], offered: list[dict[str, Any]]
) -> Exchange:
    request = _request(ctx, tools, asked)
    answer = phrasing.irrelevance_answer(
        ctx.rng, asked["function"], [t["function"] for t in offered], ctx.language
    )
    return Exchange("irrelevance", ctx.language, request.text, answer=answer)


def _chat_turn(ctx: Context) -> Exchange:
    question = ctx.rng.choice(ctx.questions)
    return Exchange("chat", ctx.language, question.question, answer=question.answer)


def _with_parameters(rng: random.Random, tools: Sequence[dict[str, Any]]) -> dict[str, Any]:
    usable = [t for t in tools if (t["function"].get("parameters") or {}).get("properties")]
    if not usable:
        raise NoValue("no tool with parameters to call twice")
    return rng.choice(usable)


def _distractors(
    ctx: Context,
    tools: ToolSet,
    target: dict[str, Any],
    count: int,
    exclude: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """``count`` tools that are not ``target``: its siblings that share the most name words
    with it (a random pick among the closest), else tools of other sets."""
    taken = [target, *exclude]
    siblings = [t for t in tools.tools if all(not _same_job(t, other) for other in taken)]
    mine = set(words_of(target["function"]["name"])[1:])
    ctx.rng.shuffle(siblings)
    siblings.sort(key=lambda t: -len(mine & set(words_of(t["function"]["name"])[1:])))
    chosen = ctx.rng.sample(siblings[: 2 * count], min(count, len(siblings)))
    for _ in range(8 * count):
        if len(chosen) >= count or not ctx.others:
            break
        other = ctx.rng.choice(ctx.rng.choice(ctx.others).tools)
        if all(not _same_job(other, t) for t in [*taken, *chosen]):
            chosen.append(other)
    if not chosen:
        raise NoValue("no distractor tool")
    return chosen


def _same_job(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two tools may well do the same thing (one could serve the other's request)."""
    fa, fb = a["function"], b["function"]
    if a is b or fa["name"] == fb["name"]:
        return True
    if (fa.get("description") or "").strip().lower() == (
        fb.get("description") or ""
    ).strip().lower():
        return True
    core = lambda f: set(words_of(f["name"])) - _VERSION_WORDS  # noqa: E731
    return core(fa) == core(fb)


def _shuffled(rng: random.Random, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tools = list(tools)
    rng.shuffle(tools)
    return tools
