"""Synthesise tool-calling chat rows, in Chinese and English, whose tool results are real.

Every row is a user request → an assistant tool call whose arguments are copied from (or follow
directly from) the request → the result of really running that call through the ToolRegistry →
a templated final answer that reports the result, or says that the tool failed and why. A share
of rows are questions no tool fits, answered directly. Built-in tools have hand-written phrasings
and value pools; any other tool (an MCP server's, a user's) is phrased from its schema alone.

Hold-out: ``generate_dataset`` builds validation rows with ``split="validation"``. Every list of
user phrasings and every finite value pool (places, queries, files, chit-chat) is cut by the seed
(or by ``holdout_seed`` when given):
a quarter of it (pools under four items are shared) is used only by validation, the rest only by
train. Validation rows therefore ask in words, and about values, that training never showed, so
evaluation measures generalisation rather than recall. Answer phrasings are not held out: they
are what the model is taught to say. Half of the training requests name a made-up place, zone,
query, path or text instead of a pool value (``made_up_values``), so that the model learns to copy
values from the request rather than to recall the pool's.

The same seed gives the same rows, except where a tool's real answer changes between runs (the
clock, the weather) or the workspace the file tools see changed in between. Running the calls
means ``write_file`` really writes sample files into the registry's workspace; the CLI gives the
registry a scratch workspace for that reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import re
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from jsonschema import validators

from configs.atomic_files import atomic_write_text
from train_app import filler_words, made_up_values, open_questions
from train_app.dataset_loading import DatasetError, openai_tool
from train_app.text_blocks import fields, lines, pairs

if TYPE_CHECKING:
    from tools.registry import ToolRegistry, ToolSpec

logger = logging.getLogger(__name__)

Language = Literal["zh", "en"]
Split = Literal["train", "validation"]
T = TypeVar("T")

LANGUAGES: tuple[Language, ...] = ("zh", "en")
HOLDOUT_SHARE = 0.25
MIN_HOLDOUT_POOL = 4
SYSTEM_PROMPT_SHARE = 0.1
# Training requests whose place, zone, query, path or text is made up (see the module docstring).
MADE_UP_SHARE = 0.5
# Training turns no tool fits that ask an open question rather than a fixed chit-chat one.
OPEN_QUESTION_SHARE = 0.5
# Training tool requests with a word from outside every phrasing put in (``filler_words``).
FILLER_SHARE = 0.5
# Training requests for the time that name the IANA zone rather than a city (validation: all).
ZONE_NAMED_SHARE = 0.3
MAX_CONCURRENT_CALLS = 16
MAX_SHOWN_CHARS = 400
# A listing's answer names this many entries and counts the rest, as a person would.
MAX_LISTED_NAMES = 5
# The phrasings of user requests that a built-in tool answers (the rest are answers).
REQUEST_PHRASINGS = (
    "calculate", "time", "weather", "search", "list_files", "list_root", "read_file", "write_file",
)  # fmt: skip
# Built-in tools that change the workspace: they run first, so that reads see what they wrote.
WRITING_TOOLS = ("write_file",)


@dataclass(frozen=True)
class Request:
    """A user turn that one tool call answers, and how to word the answer to its outcome."""

    language: Language
    text: str
    arguments: dict[str, Any]
    answer: Callable[[Any, random.Random], str]  # (successful result, wording rng) → answer
    task: str  # what the call was to do, for saying that it could not be done
    # What the request names that the call stands for, besides its argument values: the city
    # whose zone the call asks about. Filler words never split it.
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What running a call gave."""

    ok: bool
    result: Any
    error: str | None

    @property
    def content(self) -> str:
        """The ``role: tool`` message content: the result, or ``{"error": ...}``."""
        if self.ok:
            return json.dumps(self.result, ensure_ascii=False)
        return json.dumps({"error": self.error}, ensure_ascii=False)


class Holdout:
    """Cuts every phrasing list and value pool by seed into a train part and a validation part."""

    def __init__(self, seed: int, split: Split) -> None:
        self.seed, self.split = seed, split
        self._parts: dict[str, Sequence[Any]] = {}

    def pool(self, key: str, items: Sequence[T]) -> Sequence[T]:
        if key not in self._parts:
            self._parts[key] = self._part(key, items)
        return self._parts[key]

    def _part(self, key: str, items: Sequence[T]) -> Sequence[T]:
        if len(items) < MIN_HOLDOUT_POOL:
            return items
        order = list(range(len(items)))
        random.Random(f"{self.seed}:{key}").shuffle(order)
        held = max(1, round(len(items) * HOLDOUT_SHARE))
        chosen = order[:held] if self.split == "validation" else order[held:]
        return [items[i] for i in sorted(chosen)]


Builder = Callable[[random.Random, Holdout, Language], Request]


# --- the dataset ----------------------------------------------------------------------------------


def generate_dataset(
    specs: Sequence[ToolSpec | dict[str, Any]],
    registry: ToolRegistry | None,
    num_examples: int,
    validation_split: float,
    seed: int,
    no_tool_share: float = 0.15,
    holdout_seed: int | None = None,
    max_exchanges: int = 1,
    open_question_share: float = OPEN_QUESTION_SHARE,
    filler_share: float = FILLER_SHARE,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Train and validation rows; validation asks in phrasings and values held out of train.

    ``holdout_seed`` (default: ``seed``) decides that cut alone, so new rows drawn with another
    ``seed`` can continue training a model without reaching into its validation side.
    """
    if num_examples < 2:
        raise ValueError(
            f"need at least 2 examples to hold out validation rows, got {num_examples}"
        )
    num_validation = min(num_examples - 1, max(1, round(num_examples * validation_split)))
    train, validation = (
        generate_examples(
            specs,
            registry,
            count,
            seed,
            no_tool_share,
            split,
            holdout_seed,
            max_exchanges,
            open_question_share,
            filler_share,
        )
        for count, split in (
            (num_examples - num_validation, "train"),
            (num_validation, "validation"),
        )
    )
    return train, validation


def generate_examples(
    specs: Sequence[ToolSpec | dict[str, Any]],
    registry: ToolRegistry | None,
    num_examples: int,
    seed: int,
    no_tool_share: float = 0.15,
    split: Split = "train",
    holdout_seed: int | None = None,
    max_exchanges: int = 1,
    open_question_share: float = OPEN_QUESTION_SHARE,
    filler_share: float = FILLER_SHARE,
) -> list[dict[str, Any]]:
    """``num_examples`` rows of ``split``, results from ``registry`` (None: rows end at the call).

    Each row is a conversation of 1 to ``max_exchanges`` user turns, each answered as a row of
    one turn would be. ``open_question_share`` of the training turns no tool fits ask a question
    about a topic of their own (``open_questions``) rather than a fixed chit-chat one;
    ``filler_share`` of the training tool requests get a word from outside every phrasing
    (``filler_words``).
    ``specs`` are ToolSpecs or tool dicts. Call from synchronous code or a worker thread: the tool
    calls run in an event loop of their own.
    """
    if not 0.0 <= no_tool_share < 1.0:
        raise ValueError(f"no_tool_share must be in [0, 1), got {no_tool_share}")
    if max_exchanges < 1:
        raise ValueError(f"max_exchanges must be at least 1, got {max_exchanges}")
    if not 0.0 <= open_question_share <= 1.0:
        raise ValueError(f"open_question_share must be in [0, 1], got {open_question_share}")
    if not 0.0 <= filler_share <= 1.0:
        raise ValueError(f"filler_share must be in [0, 1], got {filler_share}")
    schemas = {tool["function"]["name"]: tool for tool in map(openai_tool, specs)}
    if not schemas:
        raise ValueError("no tools to generate tool-calling examples for")
    builders = {name: _builder(tool["function"], seed) for name, tool in schemas.items()}
    holdout = Holdout(seed if holdout_seed is None else holdout_seed, split)
    rng = random.Random(f"{seed}:{split}")

    exchanges = [
        1 if max_exchanges == 1 else rng.randint(1, max_exchanges) for _ in range(num_examples)
    ]
    num_turns = sum(exchanges)
    num_plain = round(num_turns * no_tool_share)
    kinds = [None] * num_plain + _tool_cycle(rng, list(builders), num_turns - num_plain)
    rng.shuffle(kinds)
    drafts = [
        _plain_draft(rng, holdout, schemas, open_question_share)
        if name is None
        else _tool_draft(rng, holdout, name, builders[name], schemas, filler_share)
        for name in kinds
    ]
    outcomes = _run_calls(registry, drafts) if registry is not None else {}
    rows = _conversations([_finish(draft, outcomes) for draft in drafts], exchanges)
    logger.info(
        "generated %d %s rows of %d user turns (%d without a tool call) for %d tools, seed %d",
        len(rows), split, num_turns, num_plain, len(builders), seed,
    )  # fmt: skip
    return rows


def split_examples(
    rows: Sequence[dict[str, Any]], validation_split: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A seeded random cut into train and validation, each keeping the rows' order."""
    if len(rows) < 2:
        raise DatasetError(f"need at least 2 rows to hold out validation rows, got {len(rows)}")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    num_validation = min(len(rows) - 1, max(1, round(len(rows) * validation_split)))
    validation = [rows[i] for i in sorted(order[:num_validation])]
    train = [rows[i] for i in sorted(order[num_validation:])]
    return train, validation


def write_jsonl(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    """One JSON row per line, written atomically so a reader never sees half a dataset."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    atomic_write_text(Path(path), text)


# --- rows -----------------------------------------------------------------------------------------


@dataclass
class _Draft:
    """A row before its tool call ran."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    request: Request | None = None
    tool_name: str | None = None
    wording: random.Random | None = None  # drawn before the call runs, so rows stay seeded


def _builder(function: dict[str, Any], seed: int) -> Builder:
    """The hand-written phrasing of a built-in tool whose schema still fits it, else the generic."""
    builder = BUILTIN_BUILDERS.get(function["name"])
    schema = function.get("parameters") or {"type": "object"}
    if builder is not None:
        probe = builder(random.Random(seed), Holdout(seed, "train"), "en")
        if validators.validator_for(schema)(schema).is_valid(probe.arguments):
            return builder
        logger.warning(
            "tool %s does not take the built-in arguments %s; phrasing it from its schema",
            function["name"], sorted(probe.arguments),
        )  # fmt: skip
    return generic_builder(function)


def _tool_cycle(rng: random.Random, names: list[str], count: int) -> list[str | None]:
    """``count`` tool names in shuffled rounds, so every tool appears about equally often."""
    cycle: list[str | None] = []
    while len(cycle) < count:
        round_ = names[:]
        rng.shuffle(round_)
        cycle.extend(round_)
    return cycle[:count]


def _offered(
    rng: random.Random, schemas: dict[str, dict[str, Any]], name: str | None
) -> list[dict[str, Any]]:
    """Tool ``name`` (if any) among all, one or two, or any number of the others, shuffled."""
    others = [other for other in schemas if other != name]
    draw = rng.random()
    if draw < 0.3:
        count = len(others)
    elif draw < 0.7:
        count = min(len(others), rng.randint(1, 2))
    else:
        count = rng.randint(0, len(others))
    chosen = rng.sample(others, count) + ([name] if name else [])
    rng.shuffle(chosen)
    return [schemas[tool] for tool in chosen]


def _opening(rng: random.Random, language: Language) -> list[dict[str, Any]]:
    """Sometimes a system prompt, so the model does not depend on the template's default."""
    if rng.random() < SYSTEM_PROMPT_SHARE:
        return [{"role": "system", "content": rng.choice(SYSTEM_PROMPTS[language])}]
    return []


def _plain_draft(
    rng: random.Random, holdout: Holdout, schemas: dict[str, dict], open_question_share: float
) -> _Draft:
    language = rng.choice(LANGUAGES)
    # A share of 0 draws nothing, so rows generated before open questions existed stay the same.
    if open_question_share and holdout.split == "train" and rng.random() < open_question_share:
        question, answer = open_questions.question(rng, _open_topics(language), language)
    else:
        question, answer = _pick(rng, holdout, f"chitchat:{language}", CHITCHAT[language])
    messages = _opening(rng, language) + [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]
    return _Draft(messages, _offered(rng, schemas, None))


def _tool_draft(
    rng: random.Random,
    holdout: Holdout,
    name: str,
    builder: Builder,
    schemas: dict[str, dict],
    filler_share: float,
) -> _Draft:
    language = rng.choice(LANGUAGES)
    request = builder(rng, holdout, language)
    text = request.text
    # A share of 0 draws nothing, so rows generated before fillers existed stay the same.
    if filler_share and holdout.split == "train" and rng.random() < filler_share:
        values = [*map(_value_text, request.arguments.values()), *request.mentions]
        text = filler_words.insert(rng, text, values, _sentence_words(language), language)
    function = {"name": name, "arguments": request.arguments}
    messages = _opening(rng, language) + [
        {"role": "user", "content": text},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_0", "type": "function", "function": function}],
        },
    ]
    wording = random.Random(rng.random())
    return _Draft(messages, _offered(rng, schemas, name), request, name, wording)


def _call_key(name: str, arguments: dict[str, Any]) -> tuple[str, str]:
    return name, json.dumps(arguments, sort_keys=True, ensure_ascii=False)


def _run_calls(registry: ToolRegistry, drafts: list[_Draft]) -> dict[tuple[str, str], Outcome]:
    """Run each distinct call once: writing tools first in row order, then the rest concurrently."""
    calls: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for draft in drafts:
        if draft.request is not None and draft.tool_name is not None:
            key = _call_key(draft.tool_name, draft.request.arguments)
            if draft.tool_name in WRITING_TOOLS:
                calls.pop(key, None)  # a repeated write takes its last place: the last one wins
            calls.setdefault(key, (draft.tool_name, draft.request.arguments))
    logger.info("running %d distinct tool calls for %d rows", len(calls), len(drafts))
    outcomes = asyncio.run(_execute(registry, calls))
    failed = sum(not outcome.ok for outcome in outcomes.values())
    logger.info("%d of %d tool calls failed; their rows say so", failed, len(outcomes))
    return outcomes


async def _execute(
    registry: ToolRegistry, calls: dict[tuple[str, str], tuple[str, dict[str, Any]]]
) -> dict[tuple[str, str], Outcome]:
    # The registry runs each tool in the loop's default executor, which has only cpu + 4
    # threads; slow network tools are waited on, not computed, so give them more.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(MAX_CONCURRENT_CALLS))
    outcomes: dict[tuple[str, str], Outcome] = {}
    for key, (name, arguments) in calls.items():
        if name in WRITING_TOOLS:  # one at a time, in row order, as they would happen live
            outcomes[key] = await _outcome(registry, name, arguments)
    limit = asyncio.Semaphore(MAX_CONCURRENT_CALLS)

    async def run(key: tuple[str, str]) -> None:
        async with limit:
            outcomes[key] = await _outcome(registry, *calls[key])

    await asyncio.gather(*(run(key) for key in calls if key not in outcomes))
    return outcomes


async def _outcome(registry: ToolRegistry, name: str, arguments: dict[str, Any]) -> Outcome:
    result = await registry.execute(name, arguments)
    return Outcome(result.ok, result.result, result.error)


def _finish(draft: _Draft, outcomes: dict[tuple[str, str], Outcome]) -> dict[str, Any]:
    row: dict[str, Any] = {"messages": draft.messages, "tools": draft.tools}
    if draft.request is None or draft.tool_name is None:
        return row
    outcome = outcomes.get(_call_key(draft.tool_name, draft.request.arguments))
    if outcome is None:  # no registry: the tool is known only by its schema
        return row
    draft.messages += [
        {"role": "tool", "tool_call_id": "call_0", "name": draft.tool_name,
         "content": outcome.content},
        {"role": "assistant", "content": _answer(draft, outcome)},
    ]  # fmt: skip
    return row


def _conversations(rows: list[dict[str, Any]], exchanges: list[int]) -> list[dict[str, Any]]:
    """Join consecutive one-turn rows into conversations of ``exchanges[i]`` user turns each.

    Long tool lists make most of a row's tokens; several turns under one list teach more calls
    per token. Later turns drop their system prompt, the row offers every tool any of its turns
    offered, and the call of turn k gets the id ``call_k``.
    """
    joined, start = [], 0
    for count in exchanges:
        messages: list[dict[str, Any]] = []
        tools: dict[str, dict[str, Any]] = {}
        for turn, row in enumerate(rows[start : start + count]):
            messages += [
                _renumbered(m, turn)
                for m in row["messages"]
                if not (turn and m["role"] == "system")
            ]
            for tool in row["tools"]:
                tools.setdefault(tool["function"]["name"], tool)
        joined.append({"messages": messages, "tools": list(tools.values())})
        start += count
    return joined


def _renumbered(message: dict[str, Any], turn: int) -> dict[str, Any]:
    """``message`` with its call id (``call_0`` in a one-turn row) made ``call_<turn>``."""
    if turn == 0:
        return message
    if message.get("tool_calls"):
        calls = [{**call, "id": f"call_{turn}"} for call in message["tool_calls"]]
        return {**message, "tool_calls": calls}
    if message["role"] == "tool":
        return {**message, "tool_call_id": f"call_{turn}"}
    return message


def _answer(draft: _Draft, outcome: Outcome) -> str:
    """The final answer: the result in words, or that the tool failed and why; never made up."""
    request, wording = draft.request, draft.wording
    assert request is not None and wording is not None
    if outcome.ok:
        try:
            return request.answer(outcome.result, wording)
        except (KeyError, TypeError, ValueError, AttributeError):
            # The tool answered in a shape its hand-written answer does not know: show it as is.
            shown = _shorten(_value_text(outcome.result))
            return _answer_phrase(
                wording, "generic_answer", request.language, name=draft.tool_name, result=shown
            )
    error = (outcome.error or "unknown error").strip().rstrip("。.")
    text = _answer_phrase(
        wording, "failure", request.language,
        task=request.task, error=error, name=draft.tool_name,
    )  # fmt: skip
    return text + ("。" if request.language == "zh" else ".")


# --- phrasing helpers -----------------------------------------------------------------------------


def _pick(rng: random.Random, holdout: Holdout, key: str, items: Sequence[T]) -> T:
    return rng.choice(holdout.pool(key, items))


def _made_up(rng: random.Random, holdout: Holdout) -> bool:
    """Whether this training request gets a made-up value (validation keeps its held-out pools)."""
    return holdout.split == "train" and rng.random() < MADE_UP_SHARE


def _made_up_text(rng: random.Random, language: Language) -> str:
    """A made-up query or note: made-up syllables or common words, half and half."""
    if rng.random() < 0.5:
        return made_up_values.text(rng, language)
    return made_up_values.sentence(rng, _sentence_words(language), language)


@cache
def _sentence_words(language: Language) -> tuple[str, ...]:
    """Common words that no tool request's phrasing uses.

    A query made of "weather" or "天气" would teach that the words asking for one tool may ask
    for another; the phrasing's own words are how a model tells the tools apart.
    """
    templates = [
        re.sub(r"\{\w+\}", " ", phrasing)
        for key in REQUEST_PHRASINGS
        for phrasing in PHRASINGS[key][language]
    ]
    if language == "zh":  # no two characters in a row of a phrasing: 计算器 goes with 计算
        joined = "\n".join(templates)
        return tuple(
            w
            for w in made_up_values.common_words("zh")
            if not any(w[i : i + 2] in joined for i in range(max(1, len(w) - 1)))
        )
    used = {word.lower() for template in templates for word in re.findall(r"[A-Za-z']+", template)}
    return tuple(w for w in made_up_values.common_words("en") if w.lower() not in used)


@cache
def _open_topics(language: Language) -> tuple[str, ...]:
    """Topics of open questions: common words of no tool phrasing and no chit-chat question.

    Validation asks the held-out chit-chat questions; a topic of theirs would make one of them
    a question the model was trained on.
    """
    asked = "\n".join(question for question, _ in CHITCHAT[language])
    if language == "zh":
        return tuple(w for w in _sentence_words(language) if w not in asked)
    used = {word.lower() for word in re.findall(r"[A-Za-z']+", asked)}
    return tuple(w for w in _sentence_words(language) if w.lower() not in used)


def _phrase(rng: random.Random, holdout: Holdout, key: str, language: Language, **values) -> str:
    """A user phrasing of ``key`` from this split's part of them."""
    return _pick(rng, holdout, f"{key}:{language}", PHRASINGS[key][language]).format(**values)


def _answer_phrase(rng: random.Random, key: str, language: Language, **values: Any) -> str:
    """An answer phrasing; not held out, since answers are what the model is taught to say."""
    return rng.choice(PHRASINGS[key][language]).format(**values)


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def _value_text(value: Any) -> str:
    """A value as a user would type it; the call's argument must follow from this text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# --- built-in tools -------------------------------------------------------------------------------


def _integer(rng: random.Random, max_digits: int = 4) -> int:
    digits = rng.choices(range(1, max_digits + 1), weights=[4, 4, 2, 1][:max_digits])[0]
    return rng.randint(1 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)


def _operand(rng: random.Random, depth: int) -> str:
    if depth > 0 and rng.random() < 0.35:
        return f"({_expression(rng, depth - 1)})"
    return str(_integer(rng))


def _expression(rng: random.Random, depth: int = 1) -> str:
    """Random arithmetic: ints of 1–4 digits, + - * / // % ** (small powers), parentheses."""
    operator = rng.choice(["+", "-", "*", "/", "//", "%", "**", "+", "-", "*"])
    if operator == "**":
        return f"{rng.randint(2, 20)} ** {rng.randint(2, 4)}"
    left = _operand(rng, depth)
    # A literal divisor is never zero, so the calculator has an answer.
    right = str(_integer(rng, 3)) if operator in ("/", "//", "%") else _operand(rng, depth)
    return f"{left} {operator} {right}"


def _number_text(value: Any) -> str:
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def calculate_request(rng: random.Random, holdout: Holdout, language: Language) -> Request:
    expression = _expression(rng)
    if rng.random() < 0.3:
        expression = expression.replace(" ", "")  # users do not always type spaces

    def answer(result: Any, wording: random.Random) -> str:
        value = _number_text(result)
        return _answer_phrase(wording, "calculate_answer", language, expr=expression, value=value)

    return Request(
        language=language,
        text=_phrase(rng, holdout, "calculate", language, expr=expression),
        arguments={"expression": expression},
        answer=answer,
        task=f"计算 {expression}" if language == "zh" else f"calculate {expression}",
    )


def time_request(rng: random.Random, holdout: Holdout, language: Language) -> Request:
    timezone, name_zh, name_en = _pick(rng, holdout, "timezones", TIMEZONES)
    place = name_zh if language == "zh" else name_en
    # Some users name the IANA zone itself. Held-out (validation) zones are always named so: which
    # zone a city is in is knowledge, not something a model can copy from an unseen request.
    if holdout.split == "validation" or rng.random() < ZONE_NAMED_SHARE:
        place = timezone
    if _made_up(rng, holdout):  # the clock does not know it: the row teaches the failure answer
        place = timezone = made_up_values.zone(rng)

    def answer(result: Any, wording: random.Random) -> str:
        moment = datetime.fromisoformat(result["datetime"])
        weekday = result.get("weekday") or moment.strftime("%A")
        return _answer_phrase(
            wording, "time_answer", language,
            place=place, time=moment.strftime("%H:%M"), date=moment.date().isoformat(),
            weekday=WEEKDAYS_ZH.get(weekday, weekday) if language == "zh" else weekday,
            tz=result.get("timezone", timezone), offset=result.get("utc_offset", ""),
        )  # fmt: skip

    return Request(
        language=language,
        text=_phrase(rng, holdout, "time", language, place=place),
        arguments={"timezone": timezone},
        answer=answer,
        task=f"查询{place}的当前时间" if language == "zh" else f"check the time in {place}",
        mentions=(place,),
    )


def _condition(condition: str, language: Language) -> str:
    """The weather tool says "晴 (clear sky)"; keep the half in the user's language."""
    chinese, _, english = condition.partition(" (")
    if not english:
        return condition
    return chinese if language == "zh" else english.rstrip(")")


def weather_request(rng: random.Random, holdout: Holdout, language: Language) -> Request:
    name_zh, name_en = _pick(rng, holdout, "weather_places", WEATHER_PLACES)
    place = name_zh if language == "zh" else name_en
    if _made_up(rng, holdout):
        place = made_up_values.place(rng, language)

    def answer(result: Any, wording: random.Random) -> str:
        return _answer_phrase(
            wording, "weather_answer", language,
            place=place, condition=_condition(str(result["condition"]), language),
            temperature=result["temperature"], humidity=result["humidity"],
            wind=result["wind_speed"],
        )  # fmt: skip

    return Request(
        language=language,
        text=_phrase(rng, holdout, "weather", language, place=place),
        arguments={"location": place},
        answer=answer,
        task=f"查询{place}的天气" if language == "zh" else f"get the weather for {place}",
    )


def search_request(rng: random.Random, holdout: Holdout, language: Language) -> Request:
    query = _pick(rng, holdout, f"search_queries:{language}", SEARCH_QUERIES[language])
    if _made_up(rng, holdout):
        query = _made_up_text(rng, language)

    def answer(result: Any, wording: random.Random) -> str:
        hits = result["results"]
        if not hits:
            return _answer_phrase(wording, "search_none", language, query=query)
        listed = [f"{i}. {hit['title']} ({hit['url']})" for i, hit in enumerate(hits[:3], start=1)]
        head = _answer_phrase(wording, "search_answer", language, query=query)
        return "\n".join([head, *listed])

    return Request(
        language=language,
        text=_phrase(rng, holdout, "search", language, query=query),
        arguments={"query": query},
        answer=answer,
        task=f"搜索“{query}”" if language == "zh" else f'search the web for "{query}"',
    )


def _file_path(rng: random.Random, holdout: Holdout) -> str:
    folder = _pick(rng, holdout, "folders", FOLDERS)
    return f"{folder}/{_pick(rng, holdout, 'file_names', FILE_NAMES)}"


def list_files_request(rng: random.Random, holdout: Holdout, language: Language) -> Request:
    if rng.random() < 0.25:  # "the workspace" is its root folder
        path, text = ".", _phrase(rng, holdout, "list_root", language)
        shown = "工作区" if language == "zh" else "the workspace"
    else:
        path = shown = _pick(rng, holdout, "folders", FOLDERS)
        if _made_up(rng, holdout):
            path = shown = made_up_values.folder(rng)
        text = _phrase(rng, holdout, "list_files", language, path=path)

    def answer(result: Any, wording: random.Random) -> str:
        names = [
            entry["name"] + ("/" if entry.get("type") == "folder" else "")
            for entry in result["entries"]
        ]
        if not names:
            return _answer_phrase(wording, "list_empty", language, path=shown)
        joined = ("、" if language == "zh" else ", ").join(names[:MAX_LISTED_NAMES])
        if len(names) > MAX_LISTED_NAMES:
            more = len(names) - MAX_LISTED_NAMES
            joined += f" 等 {len(names)} 项" if language == "zh" else f" and {more} more"
        return _answer_phrase(wording, "list_answer", language, path=shown, names=joined)

    return Request(
        language=language,
        text=text,
        arguments={"path": path},
        answer=answer,
        task=f"列出{shown}的文件" if language == "zh" else f"list the files in {shown}",
    )


def read_file_request(rng: random.Random, holdout: Holdout, language: Language) -> Request:
    # Made-up paths are read (and fail), never written: every written file shows up in the
    # listings of other rows, and hundreds of made-up ones would fill them.
    path = made_up_values.path(rng) if _made_up(rng, holdout) else _file_path(rng, holdout)

    def answer(result: Any, wording: random.Random) -> str:
        content = _shorten(result["content"])
        return _answer_phrase(wording, "read_answer", language, path=path, content=content)

    return Request(
        language=language,
        text=_phrase(rng, holdout, "read_file", language, path=path),
        arguments={"path": path},
        answer=answer,
        task=f"读取 {path} " if language == "zh" else f"read {path}",
    )


def write_file_request(rng: random.Random, holdout: Holdout, language: Language) -> Request:
    path = _file_path(rng, holdout)
    content = _pick(rng, holdout, f"file_contents:{language}", FILE_CONTENTS[language])
    if _made_up(rng, holdout):
        content = _made_up_text(rng, language)

    def answer(result: Any, wording: random.Random) -> str:
        size = result["bytes_written"]
        return _answer_phrase(wording, "write_answer", language, path=path, size=size)

    return Request(
        language=language,
        text=_phrase(rng, holdout, "write_file", language, path=path, content=content),
        arguments={"path": path, "content": content},
        answer=answer,
        task=f"写入 {path} " if language == "zh" else f"write {path}",
    )


BUILTIN_BUILDERS: dict[str, Builder] = {
    "calculate": calculate_request,
    "get_current_time": time_request,
    "get_weather": weather_request,
    "web_search": search_request,
    "list_files": list_files_request,
    "read_file": read_file_request,
    "write_file": write_file_request,
}


# --- any other tool, from its schema --------------------------------------------------------------


def _value(rng: random.Random, holdout: Holdout, schema: dict[str, Any], language: Language) -> Any:
    """A value of JSON schema ``schema`` that a user could type."""
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf"):
        options = [
            s for s in schema.get(key, []) if isinstance(s, dict) and s.get("type") != "null"
        ]
        if options:
            return _value(rng, holdout, rng.choice(options), language)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 100) - 1)
        return rng.randint(int(low), max(int(low), int(high)))
    if kind == "number":
        low = float(schema.get("minimum", 0.0))
        return round(rng.uniform(low, float(schema.get("maximum", low + 100.0))), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        least = max(1, schema.get("minItems", 1))
        return [_value(rng, holdout, items, language) for _ in range(rng.randint(least, least + 2))]
    if kind == "object":
        return _object(rng, holdout, schema, language)
    if schema.get("format") in FORMAT_VALUES:
        return rng.choice(FORMAT_VALUES[schema["format"]])
    return _pick(rng, holdout, f"words:{language}", WORDS[language])


def _object(
    rng: random.Random, holdout: Holdout, schema: dict[str, Any], language: Language
) -> dict[str, Any]:
    """Required properties always, optional ones half of the time."""
    required = set(schema.get("required", []))
    return {
        name: _value(rng, holdout, sub if isinstance(sub, dict) else {}, language)
        for name, sub in schema.get("properties", {}).items()
        if name in required or rng.random() < 0.5
    }


def generic_builder(function: dict[str, Any]) -> Builder:
    """Requests for a tool known only by its schema, phrased from its name and description."""
    name = function["name"]
    description = (function.get("description") or name).strip().rstrip("。.")
    schema = function.get("parameters") or {"type": "object", "properties": {}}

    def build(rng: random.Random, holdout: Holdout, language: Language) -> Request:
        arguments = _object(rng, holdout, schema, language)
        pattern, joiner = rng.choice(ARGUMENT_STYLES[language])
        shown = joiner.join(pattern.format(k=k, v=_value_text(v)) for k, v in arguments.items())
        shown = shown or ("无需参数" if language == "zh" else "no arguments")

        def answer(result: Any, wording: random.Random) -> str:
            shown = _shorten(_value_text(result))
            return _answer_phrase(wording, "generic_answer", language, name=name, result=shown)

        text = _phrase(
            rng, holdout, "generic", language, name=name, description=description, args=shown
        )
        task = f"调用 {name} " if language == "zh" else f"run {name}"
        return Request(language, text, arguments, answer, task)

    return build


# --- phrasings and value pools --------------------------------------------------------------------

SYSTEM_PROMPTS: dict[Language, tuple[str, ...]] = {
    "zh": lines("""
        你是一个乐于助人的助手，需要时可以调用工具。
        你是智能助手，请准确回答用户的问题。
    """),
    "en": lines("""
        You are a helpful assistant. Use the tools when they help.
        You are a precise assistant with access to tools.
    """),
}

# IANA timezone | Chinese name | English name, of places people ask the time of.
TIMEZONES = fields("""
    Asia/Tokyo | 东京 | Tokyo
    Asia/Shanghai | 北京 | Beijing
    Asia/Shanghai | 上海 | Shanghai
    Asia/Hong_Kong | 香港 | Hong Kong
    Asia/Taipei | 台北 | Taipei
    Asia/Seoul | 首尔 | Seoul
    Asia/Singapore | 新加坡 | Singapore
    Asia/Bangkok | 曼谷 | Bangkok
    Asia/Jakarta | 雅加达 | Jakarta
    Asia/Kolkata | 孟买 | Mumbai
    Asia/Dubai | 迪拜 | Dubai
    Europe/Moscow | 莫斯科 | Moscow
    Europe/Istanbul | 伊斯坦布尔 | Istanbul
    Europe/Berlin | 柏林 | Berlin
    Europe/Paris | 巴黎 | Paris
    Europe/London | 伦敦 | London
    Europe/Madrid | 马德里 | Madrid
    Europe/Rome | 罗马 | Rome
    Europe/Amsterdam | 阿姆斯特丹 | Amsterdam
    Africa/Cairo | 开罗 | Cairo
    Africa/Johannesburg | 约翰内斯堡 | Johannesburg
    America/New_York | 纽约 | New York
    America/Toronto | 多伦多 | Toronto
    America/Chicago | 芝加哥 | Chicago
    America/Denver | 丹佛 | Denver
    America/Los_Angeles | 洛杉矶 | Los Angeles
    America/Mexico_City | 墨西哥城 | Mexico City
    America/Sao_Paulo | 圣保罗 | São Paulo
    Australia/Sydney | 悉尼 | Sydney
    Pacific/Auckland | 奥克兰 | Auckland
    UTC | UTC | UTC
    Asia/Kolkata | 新德里 | New Delhi
    Asia/Kathmandu | 加德满都 | Kathmandu
    Asia/Karachi | 卡拉奇 | Karachi
    Asia/Dhaka | 达卡 | Dhaka
    Asia/Manila | 马尼拉 | Manila
    Asia/Kuala_Lumpur | 吉隆坡 | Kuala Lumpur
    Asia/Ho_Chi_Minh | 胡志明市 | Ho Chi Minh City
    Asia/Yangon | 仰光 | Yangon
    Asia/Tehran | 德黑兰 | Tehran
    Asia/Riyadh | 利雅得 | Riyadh
    Asia/Jerusalem | 耶路撒冷 | Jerusalem
    Asia/Baghdad | 巴格达 | Baghdad
    Asia/Kabul | 喀布尔 | Kabul
    Asia/Tashkent | 塔什干 | Tashkent
    Asia/Almaty | 阿拉木图 | Almaty
    Asia/Ulaanbaatar | 乌兰巴托 | Ulaanbaatar
    Asia/Colombo | 科伦坡 | Colombo
    Asia/Macau | 澳门 | Macau
    Asia/Vladivostok | 符拉迪沃斯托克 | Vladivostok
    Europe/Vienna | 维也纳 | Vienna
    Europe/Zurich | 苏黎世 | Zurich
    Europe/Stockholm | 斯德哥尔摩 | Stockholm
    Europe/Oslo | 奥斯陆 | Oslo
    Europe/Copenhagen | 哥本哈根 | Copenhagen
    Europe/Helsinki | 赫尔辛基 | Helsinki
    Europe/Warsaw | 华沙 | Warsaw
    Europe/Prague | 布拉格 | Prague
    Europe/Budapest | 布达佩斯 | Budapest
    Europe/Athens | 雅典 | Athens
    Europe/Lisbon | 里斯本 | Lisbon
    Europe/Dublin | 都柏林 | Dublin
    Europe/Brussels | 布鲁塞尔 | Brussels
    Europe/Kyiv | 基辅 | Kyiv
    Africa/Lagos | 拉各斯 | Lagos
    Africa/Nairobi | 内罗毕 | Nairobi
    Africa/Casablanca | 卡萨布兰卡 | Casablanca
    Africa/Addis_Ababa | 亚的斯亚贝巴 | Addis Ababa
    America/Vancouver | 温哥华 | Vancouver
    America/Phoenix | 凤凰城 | Phoenix
    America/Anchorage | 安克雷奇 | Anchorage
    Pacific/Honolulu | 檀香山 | Honolulu
    America/Bogota | 波哥大 | Bogotá
    America/Lima | 利马 | Lima
    America/Santiago | 圣地亚哥 | Santiago
    America/Argentina/Buenos_Aires | 布宜诺斯艾利斯 | Buenos Aires
    America/Caracas | 加拉加斯 | Caracas
    America/Havana | 哈瓦那 | Havana
    America/Halifax | 哈利法克斯 | Halifax
    America/St_Johns | 圣约翰斯 | St. John's
    Australia/Melbourne | 墨尔本 | Melbourne
    Australia/Perth | 珀斯 | Perth
    Australia/Brisbane | 布里斯班 | Brisbane
    Australia/Adelaide | 阿德莱德 | Adelaide
    Pacific/Fiji | 苏瓦 | Suva
    Atlantic/Reykjavik | 雷克雅未克 | Reykjavik
""")

WEEKDAYS_ZH = dict(
    fields("""
        Monday | 星期一
        Tuesday | 星期二
        Wednesday | 星期三
        Thursday | 星期四
        Friday | 星期五
        Saturday | 星期六
        Sunday | 星期日
    """)
)

# Chinese name | English name; the argument is the name as the user wrote it.
WEATHER_PLACES = fields("""
    北京 | Beijing
    上海 | Shanghai
    广州 | Guangzhou
    深圳 | Shenzhen
    杭州 | Hangzhou
    成都 | Chengdu
    武汉 | Wuhan
    西安 | Xi'an
    南京 | Nanjing
    重庆 | Chongqing
    天津 | Tianjin
    苏州 | Suzhou
    长沙 | Changsha
    青岛 | Qingdao
    厦门 | Xiamen
    昆明 | Kunming
    哈尔滨 | Harbin
    拉萨 | Lhasa
    东京 | Tokyo
    大阪 | Osaka
    首尔 | Seoul
    伦敦 | London
    巴黎 | Paris
    柏林 | Berlin
    纽约 | New York
    旧金山 | San Francisco
    悉尼 | Sydney
    多伦多 | Toronto
    莫斯科 | Moscow
    迪拜 | Dubai
    曼谷 | Bangkok
    开罗 | Cairo
    郑州 | Zhengzhou
    济南 | Jinan
    沈阳 | Shenyang
    大连 | Dalian
    长春 | Changchun
    合肥 | Hefei
    福州 | Fuzhou
    南昌 | Nanchang
    南宁 | Nanning
    贵阳 | Guiyang
    兰州 | Lanzhou
    乌鲁木齐 | Urumqi
    呼和浩特 | Hohhot
    太原 | Taiyuan
    石家庄 | Shijiazhuang
    海口 | Haikou
    三亚 | Sanya
    桂林 | Guilin
    宁波 | Ningbo
    无锡 | Wuxi
    珠海 | Zhuhai
    佛山 | Foshan
    银川 | Yinchuan
    西宁 | Xining
    洛阳 | Luoyang
    扬州 | Yangzhou
    丽江 | Lijiang
    香港 | Hong Kong
    澳门 | Macau
    台北 | Taipei
    新加坡 | Singapore
    吉隆坡 | Kuala Lumpur
    雅加达 | Jakarta
    马尼拉 | Manila
    河内 | Hanoi
    孟买 | Mumbai
    新德里 | New Delhi
    罗马 | Rome
    马德里 | Madrid
    巴塞罗那 | Barcelona
    阿姆斯特丹 | Amsterdam
    维也纳 | Vienna
    苏黎世 | Zurich
    布拉格 | Prague
    斯德哥尔摩 | Stockholm
    伊斯坦布尔 | Istanbul
    洛杉矶 | Los Angeles
    芝加哥 | Chicago
    西雅图 | Seattle
    温哥华 | Vancouver
    墨西哥城 | Mexico City
    里约热内卢 | Rio de Janeiro
    布宜诺斯艾利斯 | Buenos Aires
    墨尔本 | Melbourne
    奥克兰 | Auckland
    开普敦 | Cape Town
    内罗毕 | Nairobi
    札幌 | Sapporo
    京都 | Kyoto
    釜山 | Busan
""")

SEARCH_QUERIES: dict[Language, tuple[str, ...]] = {
    "zh": lines("""
        最新的 Python 版本
        杭州西湖旅游攻略
        红烧肉的做法
        量子计算的最新进展
        今年诺贝尔物理学奖得主
        新能源汽车补贴政策
        深度学习入门教程
        北京到上海的高铁时刻表
        大熊猫的生活习性
        如何提高睡眠质量
        Ray Serve 部署教程
        LoRA 微调原理
        故宫博物院开放时间
        世界上最高的山峰
        马拉松训练计划
        人工智能伦理问题
        黄山旅游最佳季节
        高血压患者饮食注意事项
        2025 年春节放假安排
        电动自行车新国标
        如何给猫咪洗澡
        长城的修建历史
        敦煌莫高窟门票预约
        iPhone 最新款价格
        Transformer 模型原理
        张家界国家森林公园攻略
        番茄炒蛋怎么做
        上海迪士尼乐园门票价格
        光伏发电的优缺点
        考研英语复习方法
        火星探测最新消息
        宫保鸡丁的做法
        儿童疫苗接种时间表
        如何申请美国签证
        二手房交易流程
        全球气候变暖的原因
        显卡性能排行
        哈尔滨冰雪大世界开放时间
        Docker 入门教程
        中国空间站最新任务
        健身初学者训练计划
        咖啡对身体的影响
        成都大熊猫基地门票
        个人所得税专项附加扣除
        Linux 常用命令大全
        世界杯历届冠军
        如何缓解颈椎疼痛
        苏州园林有哪些
        PyTorch 分布式训练
        秦始皇兵马俑的发现过程
    """),
    "en": lines("""
        latest Python release
        Ray Serve autoscaling
        how to make sourdough bread
        best hiking trails near Seattle
        symptoms of vitamin D deficiency
        LoRA fine-tuning tutorial
        electric car battery recycling
        history of the Great Wall
        cheap flights from London to Rome
        how do vaccines work
        Rust vs Go performance
        James Webb telescope discoveries
        beginner guitar chords
        remote work productivity tips
        Mediterranean diet benefits
        open source LLM benchmarks
        how to train for a 10k run
        best budget mechanical keyboards
        Kubernetes rolling update strategy
        what causes the northern lights
        healthy breakfast ideas
        Tokyo travel itinerary for 5 days
        how to fix a leaking faucet
        PyTorch mixed precision training
        history of the Roman Empire
        tips for learning Japanese
        how to grow tomatoes indoors
        best sci-fi novels of all time
        solar panel installation cost
        how to write a cover letter
        Mars rover latest findings
        difference between TCP and UDP
        easy vegetarian dinner recipes
        how to start investing in index funds
        causes of inflation
        Docker compose tutorial
        how to improve posture
        world cup winners list
        benefits of meditation
        how does GPS work
        best national parks in the US
        how to care for a succulent
        SQL join examples
        symptoms of the flu
        cheap hotels in Barcelona
        how to back up an iPhone
        electric bike laws in Europe
        transformer architecture explained
        how to make cold brew coffee
        most popular programming languages
    """),
}

FOLDERS = lines("""
    notes
    docs
    drafts
    reports
    projects
    notes/2024
    work
    work/2025
    personal
    archive
    travel
    docs/api
    drafts/blog
    reports/q3
    notes/meetings
    projects/website
""")
FILE_NAMES = lines("""
    todo.txt
    meeting_notes.md
    plan.md
    summary.txt
    ideas.md
    shopping_list.txt
    report.md
    readme.txt
    journal.md
    draft.txt
    schedule.txt
    checklist.md
    notes.txt
    agenda.md
    budget.txt
    recipes.md
    reading_list.md
    contacts.txt
    goals.md
    changelog.md
    log.txt
    tasks.md
    questions.txt
    outline.md
    packing_list.txt
    workout_plan.md
    expenses.txt
    reminders.txt
    book_notes.md
    weekly_review.md
    travel_plan.md
    bugs.txt
    minutes.md
    quotes.txt
    timeline.md
    feedback.txt
    study_plan.md
    gift_ideas.txt
""")
FILE_CONTENTS: dict[Language, tuple[str, ...]] = {
    "zh": lines("""
        明天上午十点和设计团队开会
        买牛奶、鸡蛋和面包
        周五之前提交季度报告
        记得给妈妈打电话
        下周二去医院复查
        整理训练数据并检查验证集
        读完《三体》第二部
        项目预算：三万元
        周三下午三点交水电费
        给小王回复关于合同的邮件
        这周末去超市买水果和蔬菜
        早上七点起床跑步五公里
        学习计划：每天背三十个单词
        下个月十五号是爸爸的生日
        修复登录页面的显示问题
        旅行清单：护照、充电器、雨伞
        晚上八点线上会议讨论新版本
        把旧衣服捐给社区
        阅读进度：第五章已读完
        检查服务器日志中的报错
        周日下午带孩子去图书馆
        新版本发布时间定在六月一日
    """),
    "en": lines("""
        Meeting with the design team at 10:00 tomorrow
        Buy milk, eggs and bread
        Submit the quarterly report by Friday
        Call the dentist to reschedule
        Review the training config before the next run
        Pack the charger and passport
        Draft the blog post about tool calling
        Budget: 3000 USD for the offsite
        Pay the electricity bill on Wednesday
        Reply to Sam about the contract
        Run 5 km before breakfast
        Water the plants every Monday
        Book a table for four on Saturday night
        Renew the car insurance before March
        Fix the login page layout bug
        Read chapter five of the design book
        Pick up the kids at 3:30 today
        Send the invoice to the client by Thursday
        Back up the laptop this weekend
        Dad's birthday is on the 15th next month
        Ask the team for feedback on the new logo
        Release the new version on June 1
    """),
}

WORDS: dict[Language, tuple[str, ...]] = {
    "zh": lines("""
        北京
        报告
        项目
        订单
        用户
        会议
        预算
        季度
        产品
        客户
        任务
        图书
        音乐
        电影
        旅行
        咖啡
    """),
    "en": lines("""
        alpha
        report
        project
        invoice
        customer
        meeting
        budget
        quarterly
        product
        London
        task
        library
        music
        travel
        coffee
        roadmap
    """),
}
FORMAT_VALUES: dict[str, tuple[str, ...]] = {
    "date": ("2024-05-17", "2025-01-03", "2023-11-28", "2024-08-09"),
    "date-time": ("2024-05-17T09:30:00Z", "2025-01-03T18:00:00Z", "2023-11-28T07:15:00Z"),
    "email": ("alice@example.com", "bob@example.org", "li.wei@example.cn"),
    "uri": ("https://example.com/docs", "https://example.org/api/items", "https://example.net/"),
}
# (one argument, joiner) styles of listing a generic tool's arguments.
ARGUMENT_STYLES: dict[Language, tuple[tuple[str, str], ...]] = {
    "zh": (("{k} 为 {v}", "，"), ("{k}={v}", "，"), ("{k}：{v}", "；"), ("参数 {k} 取 {v}", "，")),
    "en": (("{k}={v}", ", "), ("{k} set to {v}", " and "), ("{k}: {v}", "; "), ("{k} = {v}", ", ")),
}

PHRASINGS: dict[str, dict[Language, tuple[str, ...]]] = {
    "calculate": {
        "zh": lines("""
            计算 {expr} 的结果
            {expr} 等于多少？
            帮我算一下 {expr}
            请问 {expr} 是多少？
            {expr} = ?
            算算 {expr}
            我想知道 {expr} 的值
            麻烦计算一下：{expr}
            求 {expr} 的值。
            {expr} 的计算结果是什么？
            {expr}
            {expr} 是多少
            帮忙算一下 {expr} 等于几
            请帮我计算 {expr}。
            你能算出 {expr} 吗？
            {expr}，结果是多少？
            计算：{expr}
            我算不出来 {expr}，你帮我算算
            请问 {expr} 的答案是什么？
            求值：{expr}
            快速算一下 {expr}
            {expr} 算出来是多少？
            麻烦你算算 {expr} 等于什么
            作业里有一道题：{expr}，答案是多少？
            能帮我验算一下 {expr} 吗？
            {expr} 结果多少？帮我算一下
        """),
        "en": lines("""
            What is {expr}?
            Please compute {expr}
            Calculate {expr} for me.
            How much is {expr}?
            Can you work out {expr}?
            Evaluate {expr}.
            {expr} = ?
            What does {expr} come to?
            I need the value of {expr}.
            Quick math: {expr}
            {expr}
            Compute {expr}.
            What's {expr}?
            Can you calculate {expr} for me?
            Solve {expr}.
            Help me figure out {expr}.
            What is the result of {expr}?
            Please evaluate {expr}.
            I'm stuck on {expr}. What's the answer?
            Do the math: {expr}
            Tell me what {expr} equals.
            Quick question, what's {expr}?
            Could you work out {expr} please?
            Calculate: {expr}
            What do you get for {expr}?
            Result of {expr}?
        """),
    },
    "calculate_answer": {
        "zh": lines("""
            {expr} = {value}。
            计算结果是 {value}。
            {expr} 的结果是 {value}。
            答案是 {value}。
        """),
        "en": lines("""
            {expr} = {value}.
            The result is {value}.
            {expr} equals {value}.
            That comes to {value}.
        """),
    },
    "time": {
        "zh": lines("""
            现在{place}几点了？
            {place}现在是几点？
            查一下{place}的当前时间
            {place}那边现在几点
            告诉我{place}的时间
            {place}今天星期几？现在几点？
            请问{place}当地时间是多少？
            我想知道{place}此刻的时间
            帮我看看{place}现在的日期和时间
            {place}现在几点？
            请告诉我{place}现在的时间。
            {place}的时间是多少？
            查查{place}的时间
            我朋友在{place}，那边现在几点了？
            {place}当地现在是几点钟？
            帮我查一下{place}的日期和时间
            现在{place}是什么时间？
            {place}那里现在是白天还是晚上？
            想给{place}的同事打电话，那边现在几点？
            {place}时间
            请问{place}现在几号、几点？
            你知道{place}现在几点吗？
            看一下{place}的本地时间
            {place}，现在几点？
            能告诉我{place}此刻是几点吗？
            麻烦查下{place}当前的时间
        """),
        "en": lines("""
            What time is it in {place}?
            What's the current time in {place}?
            Tell me the local time in {place}.
            Is it morning or evening in {place} right now?
            What day and time is it in {place}?
            Check the time in {place} for me.
            Current date and time in {place}, please.
            I need to know what time it is in {place}.
            How late is it in {place} now?
            What's the time in {place}?
            Time in {place}?
            Can you tell me the time in {place}?
            What time is it right now in {place}?
            Do you know the current time in {place}?
            I'm calling a friend in {place}. What time is it there?
            What's the local time in {place}?
            Give me the current time for {place}.
            Is it late at night in {place}?
            Please check the current date and time in {place}.
            What's today's date in {place}?
            Local time in {place}, please.
            Could you look up the time in {place}?
            Hey, what time is it over in {place}?
            Tell me the time in {place}.
            What hour is it in {place} at the moment?
            Show me the current time in {place}.
        """),
    },
    "time_answer": {
        "zh": lines("""
            {place}现在是 {date} {weekday} {time}（{tz}，UTC{offset}）。
            {place}当前时间：{time}，{weekday}，{date}。
            现在{place}是{weekday} {time}。
        """),
        "en": lines("""
            The current time in {place} is {time} on {weekday}, {date} ({tz}, UTC{offset}).
            It's {time} in {place} right now ({weekday}, {date}).
            In {place} it is {weekday}, {time}.
        """),
    },
    "weather": {
        "zh": lines("""
            {place}今天天气怎么样？
            查一下{place}的天气
            {place}现在多少度？
            {place}下雨了吗？
            我要去{place}，那边天气如何？
            帮我看看{place}的实时天气
            {place}现在冷不冷？
            告诉我{place}当前的天气情况
            {place}的天气
            {place}今天的天气怎么样？
            请问{place}现在的天气如何？
            {place}的气温是多少？
            帮我查查{place}的天气情况
            {place}现在需要带伞吗？
            我下午要去{place}，那里天气怎么样？
            {place}，天气怎么样？
            查询{place}的实时天气
            {place}现在刮风吗？
            {place}的湿度高吗？
            看一下{place}当前的温度
            {place}现在热不热？
            天气：{place}
            你能告诉我{place}的天气吗？
            {place}现在是晴天还是阴天？
            想知道{place}此刻的天气
            {place}的天气如何？
        """),
        "en": lines("""
            What's the weather like in {place}?
            How's the weather in {place} right now?
            Is it raining in {place}?
            What's the temperature in {place}?
            Check the current weather in {place}.
            I'm heading to {place}. What's the weather there?
            Weather in {place}, please.
            Tell me the current conditions in {place}.
            Is it cold in {place} today?
            Weather for {place}?
            How hot is it in {place}?
            Do I need an umbrella in {place}?
            What are the current conditions in {place}?
            Can you check the weather in {place}?
            What's it like outside in {place} right now?
            Is it sunny in {place}?
            How windy is it in {place}?
            Give me the weather report for {place}.
            What's the humidity in {place}?
            Current temperature in {place}, please.
            I'm flying to {place} later. How's the weather there?
            Please look up the weather in {place}.
            Any rain in {place} at the moment?
            Tell me the weather in {place}.
            How warm is it in {place} right now?
            Weather check: {place}
        """),
    },
    "weather_answer": {
        "zh": lines("""
            {place}当前{condition}，气温 {temperature}，湿度 {humidity}，风速 {wind}。
            {place}现在的天气：{condition}，{temperature}，湿度 {humidity}。
        """),
        "en": lines("""
            It's {condition} in {place} right now: {temperature}, humidity {humidity}, wind {wind}.
            {place} now: {condition}, {temperature} with {humidity} humidity.
        """),
    },
    "search": {
        "zh": lines("""
            搜索一下{query}
            帮我在网上查查{query}
            上网搜一下：{query}
            我想了解{query}，帮我搜索一下
            请搜索“{query}”
            网上关于{query}有什么信息？
            查找{query}相关的资料
            用搜索引擎查一下{query}
            搜一搜{query}
            请搜索：{query}
            帮我搜一下“{query}”
            搜索“{query}”的相关信息
            上网查一下：{query}
            你能帮我搜索“{query}”吗？
            我想查一些资料：{query}
            网上搜搜：{query}
            用网页搜索查找“{query}”
            帮我找找网上关于“{query}”的内容
            搜索关键词：{query}
            请在网上查询“{query}”
            查一下这个：{query}
            帮我搜索以下内容：{query}
            我需要最新的信息，请搜索“{query}”
            能不能上网查查“{query}”？
            搜：{query}
            麻烦搜索一下：{query}
        """),
        "en": lines("""
            Search the web for {query}.
            Look up {query} online.
            Can you google {query}?
            Find me information about {query}.
            Search for "{query}".
            What does the web say about {query}?
            Do a web search on {query}.
            I need recent info on {query}. Search it.
            Please look up {query}.
            Search: {query}
            Google this: {query}
            Can you search the web for "{query}"?
            Look this up for me: {query}
            Please search online for {query}.
            I'd like to know more. Search it: {query}
            Run a web search for "{query}".
            Find articles about {query}.
            Search the internet for {query}.
            Could you look up "{query}" for me?
            What can you find online about {query}?
            Web search: {query}
            Quick search please: {query}
            Find me recent results for "{query}".
            Look up "{query}".
            Do a quick search on {query}.
            I need some info. Search for {query}.
        """),
    },
    "search_answer": {
        "zh": lines("""
            我找到了这些关于“{query}”的结果：
            关于“{query}”的搜索结果如下：
        """),
        "en": lines("""
            Here is what I found for "{query}":
            Top results for "{query}":
        """),
    },
    "search_none": {
        "zh": ("没有找到关于“{query}”的结果。",),
        "en": ('The search found nothing for "{query}".',),
    },
    "list_files": {
        "zh": lines("""
            列出 {path} 目录下的文件
            {path} 文件夹里有什么？
            看看 {path} 里有哪些文件
            显示 {path} 目录的内容
            {path} 下面都有什么文件？
            帮我查看一下 {path} 文件夹
            请列出 {path} 中的所有文件
            {path} 目录里现在有哪些东西？
            {path} 里有什么文件？
            列出 {path} 的内容
            请显示 {path} 目录下的所有文件
            帮我看一下 {path} 目录
            {path} 文件夹下有哪些东西？
            查看目录：{path}
            {path} 里都放了些什么？
            我想看看 {path} 文件夹里的文件列表
            打开 {path} 目录，告诉我里面有什么
            能列一下 {path} 吗？
            {path} 目录下有文件吗？
            列目录 {path}
            显示 {path} 下的文件和子文件夹
            请问 {path} 里面有哪些文件？
            给我 {path} 的文件清单
            检查一下 {path} 文件夹里有什么
            {path} 中有哪些文件和文件夹？
        """),
        "en": lines("""
            List the files in {path}.
            What's in the {path} folder?
            Show me the contents of the {path} directory.
            Which files are in {path}?
            Can you list {path} for me?
            What files does {path} contain?
            Give me a directory listing of {path}.
            Look inside {path} and tell me what's there.
            What's inside {path}?
            Show the files in {path}.
            List everything in {path}.
            Can you show me what's in {path}?
            Please list the contents of {path}.
            What do we have in {path}?
            ls {path}
            Browse {path} and list the files.
            I need a file list for {path}.
            Tell me which files are in {path}.
            Are there any files in {path}?
            Show me the directory {path}.
            Could you check what's in the {path} folder?
            List the contents of the folder {path}.
            What's stored in {path}?
            Give me the list of files under {path}.
            Check {path} and list what you find.
        """),
    },
    "list_root": {
        "zh": lines("""
            工作区里有哪些文件？
            列出工作区根目录的文件
            看看工作区里都有什么
            我的工作区里有什么？
            列出工作区的文件
            工作区里有什么？
            显示工作区的内容
            帮我看看工作区根目录
            工作区根目录下有哪些文件和文件夹？
            请列出工作区里的所有文件
            我的工作区现在有哪些东西？
            查看工作区
            工作区里都放了什么？
            把工作区里的文件列出来
            工作区目录下有什么？
            看一下我的工作区
            工作区有哪些文件夹？
            请显示工作区根目录的文件列表
            能列一下工作区吗？
            工作区里现在有文件吗？
            浏览一下工作区
            告诉我工作区里有什么
            工作区的文件清单
            检查一下工作区里有哪些文件
        """),
        "en": lines("""
            What files are in the workspace?
            List the workspace folder.
            Show me what's in my workspace.
            What's in the workspace right now?
            List the files in the workspace.
            What's in my workspace?
            Show me the workspace.
            What does the workspace contain?
            List everything in the workspace root.
            Can you show me the files in my workspace?
            Give me a listing of the workspace.
            Which files are in the workspace?
            Browse the workspace and tell me what's there.
            What do I have in the workspace?
            Show the top-level files in the workspace.
            Please list my workspace.
            What folders are in the workspace?
            Check the workspace for files.
            Look at the workspace and list its contents.
            What's at the root of the workspace?
            I'd like to see my workspace files.
            Are there any files in the workspace?
            Show me the workspace root directory.
            List the workspace contents, please.
        """),
    },
    "list_answer": {
        "zh": lines("""
            {path} 里有：{names}。
            {path} 中的文件和文件夹：{names}。
        """),
        "en": lines("""
            {path} contains: {names}.
            Here is what's in {path}: {names}.
        """),
    },
    "list_empty": {
        "zh": ("{path} 是空的。",),
        "en": ("{path} is empty.",),
    },
    "read_file": {
        "zh": lines("""
            读取 {path} 的内容
            打开 {path} 看看里面写了什么
            {path} 里写的是什么？
            帮我读一下 {path}
            显示文件 {path} 的内容
            请把 {path} 的内容给我看看
            查看 {path} 这个文件
            {path} 文件里有什么内容？
            {path} 里写了什么？
            请读取文件 {path}
            打开 {path}
            帮我看看 {path} 的内容
            读一下 {path} 文件
            {path} 的内容是什么？
            显示 {path}
            我想看 {path} 里的内容
            把 {path} 打开给我看看
            请问 {path} 这个文件写了些什么？
            输出 {path} 的全部内容
            能帮我读取 {path} 吗？
            查看文件：{path}
            读取文件 {path}，告诉我里面写了什么
            {path} 文件写的啥？
            打开文件 {path} 看一下
            给我读读 {path}
        """),
        "en": lines("""
            Read {path} for me.
            What does {path} say?
            Show me the contents of {path}.
            Open {path} and tell me what's in it.
            Can you read the file {path}?
            Print the file {path}.
            What's written in {path}?
            Display {path}.
            Open {path}.
            What's in {path}?
            Read the file {path}.
            Show me {path}.
            Could you open {path} for me?
            Tell me what {path} contains.
            Let me see the contents of {path}.
            Please read {path} and show me the text.
            cat {path}
            What did I write in {path}?
            Can you display the file {path}?
            I want to read {path}.
            Fetch the contents of {path}.
            Show the text of {path}.
            What's the content of the file {path}?
            Read out {path}, please.
            Open the file {path} and read it to me.
        """),
    },
    "read_answer": {
        "zh": lines("""
            {path} 的内容是：{content}
            文件 {path} 里写着：{content}
        """),
        "en": lines("""
            {path} says: {content}
            Here are the contents of {path}: {content}
        """),
    },
    "write_file": {
        "zh": lines("""
            把“{content}”写入 {path}
            在 {path} 里保存这段话：{content}
            新建文件 {path}，内容是：{content}
            请将以下内容写到 {path}：{content}
            帮我记到 {path}：{content}
            把这句话存到 {path}：{content}
            创建 {path}，写入“{content}”
            往 {path} 写入：{content}
            在 {path} 中写入：{content}
            保存到 {path}：{content}
            请创建文件 {path}，写入以下内容：{content}
            把“{content}”保存到 {path}
            帮我把“{content}”记到 {path} 里
            写一个文件 {path}，内容：{content}
            请往 {path} 写入这句话：{content}
            在 {path} 里记一笔：{content}
            新建 {path} 并写入：{content}
            把下面这行写进 {path}：{content}
            帮我在 {path} 保存“{content}”
            把“{content}”存成文件 {path}
            创建一个名为 {path} 的文件，内容为：{content}
            写入文件 {path}：{content}
            请把这段文字写到 {path} 里：{content}
            用 {path} 记录：{content}
            在文件 {path} 中保存以下内容：{content}
            把“{content}”写进 {path} 文件
        """),
        "en": lines("""
            Write "{content}" to {path}.
            Save this to {path}: {content}
            Create {path} with the text: {content}
            Put the following in {path}: {content}
            Store "{content}" in the file {path}.
            Make a file called {path} containing: {content}
            Note this down in {path}: {content}
            Please write this into {path}: {content}
            Save "{content}" to {path}.
            Write this to {path}: {content}
            Create a file {path} that says: {content}
            Add a note to {path}: {content}
            Please save the following in {path}: {content}
            Put "{content}" into {path}.
            Write the file {path} with this content: {content}
            Can you create {path} containing "{content}"?
            Record this in {path}: {content}
            Jot this down in {path}: {content}
            Save a file at {path} with the text "{content}".
            I want {path} to say: {content}
            Make {path} and write: {content}
            Store this text in {path}: {content}
            Write "{content}" into the file {path}.
            Could you save this note to {path}? {content}
            New file {path}: {content}
        """),
    },
    "write_answer": {
        "zh": lines("""
            已写入 {path}（{size} 字节）。
            好的，内容已保存到 {path}。
        """),
        "en": lines("""
            Saved to {path} ({size} bytes).
            Done: {path} now holds your text.
        """),
    },
    "generic": {
        "zh": lines("""
            请调用 {name}，{args}
            用 {name} 处理一下：{args}
            {description}，{args}
            请{description}。{args}
            帮我运行 {name}（{description}），{args}
            需要用到 {name}：{args}
            使用工具 {name}，{args}
            我想{description}：{args}
            调用 {name}：{args}
            请用 {name} 工具，参数：{args}
            帮我{description}，{args}
            运行 {name}，{args}
            用 {name} 来{description}：{args}
            我需要{description}。参数如下：{args}
            请使用 {name}，{args}
            执行 {name}：{args}
            帮忙调用一下 {name}，{args}
            能用 {name} 帮我处理吗？{args}
            {name}：{args}
            请帮我{description}，参数是：{args}
            通过 {name} 完成这个任务：{args}
            调用工具 {name}（{description}）：{args}
            麻烦{description}，{args}
            我想用 {name}，{args}
        """),
        "en": lines("""
            Use {name} with {args}.
            Please run {name}: {args}.
            {description}: {args}.
            I need this: {description}. {args}.
            Call {name} ({description}) with {args}.
            Can you use {name}? {args}.
            Run the {name} tool, {args}.
            {description}, please. {args}.
            Run {name} with {args}.
            Call {name}: {args}.
            Use the {name} tool with {args}.
            Please call {name} with {args}.
            {name}: {args}.
            Invoke {name} using {args}.
            Could you run {name}? {args}.
            Execute {name} with these arguments: {args}.
            Use {name} ({description}): {args}.
            Task: {description}. Arguments: {args}.
            Can you call the {name} tool with {args}?
            Run the tool {name} with {args}.
            {description}. Use {name} with {args}.
            Please use {name} for this: {args}.
            Help me with this: {description}. {args}.
            Trigger {name} with {args}.
            Have {name} handle this: {args}.
        """),
    },
    "generic_answer": {
        "zh": lines("""
            {name} 返回：{result}
            调用 {name} 的结果：{result}
        """),
        "en": lines("""
            {name} returned: {result}
            Here is what {name} returned: {result}
        """),
    },
    "failure": {
        "zh": lines("""
            抱歉，{task}失败了：{error}
            调用 {name} 时出错（{error}），没能{task}
            {task}没有成功，工具报错：{error}
        """),
        "en": lines("""
            Sorry, I couldn't {task}: {error}
            The {name} tool failed ({error}), so I couldn't {task}
            I tried to {task}, but the tool reported an error: {error}
        """),
    },
}

# Requests no tool fits: a question line, then its direct answer.
CHITCHAT: dict[Language, tuple[tuple[str, str], ...]] = {
    "zh": pairs("""
        你好！
        你好！有什么可以帮你的吗？

        介绍一下你自己
        我是一个 AI 助手，可以回答问题，也能调用计算器、时钟、天气、搜索和文件工具。

        谢谢你的帮助！
        不客气，随时乐意帮忙！

        什么是机器学习？
        机器学习是人工智能的一个分支，让计算机从数据中学习规律，而不是靠人写规则。

        什么是光合作用？
        光合作用是植物利用光能，把二氧化碳和水转化为葡萄糖并释放氧气的过程。

        给我讲个笑话吧
        为什么程序员分不清万圣节和圣诞节？因为 Oct 31 等于 Dec 25。

        早上好
        早上好！祝你今天一切顺利。

        你能做什么？
        我可以聊天、解释概念，也能调用工具计算、查时间、查天气、搜索网页和读写文件。

        什么是大语言模型？
        大语言模型是在大量文本上训练的神经网络，能够理解和生成自然语言。

        推荐一本好书
        可以试试《人类简史》，它用通俗的语言讲述了人类社会的发展历程。

        怎样才能学好英语？
        多听多说、每天坚持阅读，并在真实场景中使用，是学好英语的关键。

        什么是区块链？
        区块链是一种分布式账本，数据按区块链接并由多方共同维护，难以篡改。

        再见
        再见，祝你生活愉快！

        HTTP 和 HTTPS 有什么区别？
        HTTPS 在 HTTP 之上加了 TLS 加密，能防止传输的数据被窃听和篡改。

        你叫什么名字？
        我是一个 AI 助手，你可以直接叫我助手。

        你是机器人吗？
        我是一个 AI 程序，不是真人，但我会尽力帮你。

        晚安
        晚安，祝你做个好梦！

        我今天心情不太好
        抱歉听到这个。愿意的话可以和我聊聊，说出来也许会好受一些。

        什么是黑洞？
        黑洞是引力极强的天体，连光都无法从中逃逸。

        为什么天空是蓝色的？
        阳光中的蓝光波长较短，被大气散射得更多，所以天空看起来是蓝色的。

        什么是递归？
        递归是函数在定义中调用自身，把大问题拆成同类的小问题来解决。

        如何保持健康的生活方式？
        规律作息、均衡饮食、适量运动，再加上良好的心态。

        给我写一句生日祝福
        祝你生日快乐，愿新的一岁健康平安、心想事成！

        什么是云计算？
        云计算是通过网络按需使用服务器、存储和软件等计算资源的方式。

        怎么缓解工作压力？
        适当休息、规律运动、和朋友倾诉，并把任务拆小逐步完成，都能缓解压力。

        推荐一部好看的电影
        可以看看《肖申克的救赎》，它讲述了关于希望与坚持的故事。

        什么是 DNA？
        DNA 是脱氧核糖核酸，携带着生物体的遗传信息。

        你会说英语吗？
        会的，我可以用中文和英语交流。

        什么是开源软件？
        开源软件是源代码公开、允许任何人查看、修改和分发的软件。

        如何养成阅读的习惯？
        从感兴趣的书开始，每天固定一小段时间阅读，并随身带一本书。

        写一首关于春天的短诗
        春风拂柳绿，细雨润花红。燕子归来早，人间处处融。

        什么是面向对象编程？
        面向对象编程用对象来组织代码，把数据和操作数据的方法封装在一起。

        你喜欢什么颜色？
        我没有真正的喜好，不过很多人喜欢蓝色，因为它让人感到平静。

        怎么和新同事快速熟悉起来？
        主动打招呼、一起吃午饭、在工作中多请教，很快就能熟悉起来。

        什么是 API？
        API 是应用程序编程接口，规定了不同软件之间如何互相调用和交换数据。

        谢谢，你真棒！
        谢谢夸奖，很高兴能帮到你！

        为什么要多喝水？
        水参与身体的新陈代谢，帮助调节体温、运输营养和排出废物。

        什么是人工智能？
        人工智能是让机器模拟人类智能，完成感知、推理、学习和决策等任务的技术。

        学编程应该从哪门语言开始？
        Python 语法简洁、学习资料丰富，很适合作为入门语言。

        中秋节有什么习俗？
        中秋节人们会赏月、吃月饼，和家人团聚。

        你能陪我聊聊天吗？
        当然可以，想聊点什么都行。

        帮我给新养的猫起个名字
        可以叫它“团子”，听起来可爱又亲切。
    """),
    "en": pairs("""
        Hello!
        Hello! How can I help you today?

        Tell me about yourself.
        I'm an AI assistant. I answer questions and can use tools: a calculator, a clock,
        weather, web search and files.

        Thanks for your help!
        You're welcome, happy to help!

        What is machine learning?
        Machine learning is a branch of AI where computers learn patterns from data
        instead of following hand-written rules.

        What is photosynthesis?
        Photosynthesis is how plants use light to turn carbon dioxide and water into glucose,
        releasing oxygen.

        Tell me a joke.
        Why do programmers confuse Halloween and Christmas? Because Oct 31 equals Dec 25.

        Good morning
        Good morning! I hope your day goes well.

        What can you do?
        I can chat, explain ideas, and use tools to calculate, tell the time, check the weather,
        search the web and read or write files.

        What is a large language model?
        A large language model is a neural network trained on lots of text to understand and
        generate language.

        Recommend a good book.
        Try "Sapiens" by Yuval Noah Harari, an accessible history of humankind.

        How can I get better at public speaking?
        Practise often, know your material well, and start with small, friendly audiences.

        What is a blockchain?
        A blockchain is a distributed ledger whose records are chained in blocks and kept by
        many parties, which makes them hard to alter.

        Goodbye!
        Goodbye, take care!

        What's the difference between HTTP and HTTPS?
        HTTPS is HTTP over TLS encryption, which protects data in transit from eavesdropping
        and tampering.

        What's your name?
        I'm an AI assistant; you can just call me Assistant.

        Are you a robot?
        I'm an AI program, not a person, but I'll do my best to help.

        Good night!
        Good night, sleep well!

        I'm feeling a bit down today.
        I'm sorry to hear that. If you'd like to talk about it, I'm here to listen.

        What is a black hole?
        A black hole is a region of space where gravity is so strong that not even light can
        escape.

        Why is the sky blue?
        Blue sunlight has a short wavelength and is scattered more by the air, so the sky looks
        blue.

        What is recursion?
        Recursion is when a function calls itself, breaking a problem into smaller problems of the
        same kind.

        How can I stay healthy?
        Sleep regularly, eat a balanced diet, exercise often and look after your mental health.

        Write a short birthday message.
        Happy birthday! Wishing you health, joy and a wonderful year ahead.

        What is cloud computing?
        Cloud computing is using servers, storage and software over the internet, on demand.

        How do I deal with stress at work?
        Take short breaks, exercise, talk to people you trust and break big tasks into small
        steps.

        Recommend a good movie.
        Try "The Shawshank Redemption", a moving story about hope and friendship.

        What is DNA?
        DNA is the molecule that carries the genetic instructions of living things.

        Do you speak Chinese?
        Yes, I can chat in both Chinese and English.

        What is open source software?
        Open source software has public source code that anyone can read, change and share.

        How do I build a reading habit?
        Start with books you enjoy, read a little at the same time every day, and keep a book
        with you.

        Write a short poem about spring.
        Soft rain wakes the sleeping ground, blossoms open all around; birds return with morning
        song, and the days grow warm and long.

        What is object-oriented programming?
        Object-oriented programming organises code into objects that bundle data with the methods
        that work on it.

        What's your favourite colour?
        I don't have real preferences, but many people like blue because it feels calm.

        How can I get to know my new coworkers?
        Say hello, join them for lunch and ask for their advice; you'll settle in quickly.

        What is an API?
        An API is an application programming interface: the rules for how pieces of software
        talk to each other.

        Thanks, you're great!
        Thank you, I'm glad I could help!

        Why should I drink enough water?
        Water helps your body regulate its temperature, carry nutrients and remove waste.

        What is artificial intelligence?
        Artificial intelligence is technology that lets machines perceive, reason, learn and make
        decisions.

        Which programming language should I learn first?
        Python is a good first choice: its syntax is simple and there are plenty of learning
        resources.

        What is Thanksgiving about?
        Thanksgiving is a holiday for giving thanks, usually celebrated with a big family meal.

        Can you just chat with me for a bit?
        Of course! What would you like to talk about?

        Suggest a name for my new cat.
        How about "Mochi"? It's cute and easy to say.
    """),
}


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: generate train.jsonl and validation.jsonl from the configured tools."""
    from configs.store import DEFAULT_CONFIG_FILE, load_config
    from tools.registry import ToolRegistry

    parser = argparse.ArgumentParser(description="Generate a tool-calling dataset.")
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="YAML config to read")
    parser.add_argument("--output", default="runs/data", help="folder for the two JSONL files")
    parser.add_argument("--num-examples", type=int, help="rows in all (default: config)")
    parser.add_argument("--seed", type=int, help="generation seed (default: config)")
    parser.add_argument("--validation-split", type=float, help="validation share (default: config)")
    parser.add_argument("--no-tool-share", type=float, help="turns no tool fits (default: config)")
    parser.add_argument(
        "--open-question-share", type=float, help="of those, open questions (default: config)"
    )
    parser.add_argument(
        "--filler-share", type=float, help="tool requests with a filler word (default: config)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    config = load_config(args.config)
    data = config.data
    with tempfile.TemporaryDirectory(prefix="mcp-tune-workspace-") as workspace:
        # The file tools really write: give them a scratch workspace, never the user's files.
        tools = config.tools.model_copy(update={"workspace_dir": workspace})
        registry = ToolRegistry.from_config(tools)
        train, validation = generate_dataset(
            registry.specs(),
            registry,
            args.num_examples if args.num_examples is not None else data.num_generated_examples,
            args.validation_split if args.validation_split is not None else data.validation_split,
            args.seed if args.seed is not None else data.seed,
            args.no_tool_share if args.no_tool_share is not None else data.no_tool_share,
            data.holdout_seed,
            data.max_exchanges,
            args.open_question_share
            if args.open_question_share is not None
            else data.open_question_share,
            args.filler_share if args.filler_share is not None else data.filler_share,
        )
    output = Path(args.output)
    write_jsonl(train, output / "train.jsonl")
    write_jsonl(validation, output / "validation.jsonl")
    print(f"train: {len(train)} rows -> {output / 'train.jsonl'}")
    print(f"validation: {len(validation)} rows -> {output / 'validation.jsonl'}")


if __name__ == "__main__":
    main()
