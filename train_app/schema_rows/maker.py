"""Rows for any tool schema, from tool sets: training rows of one to ``max_exchanges`` turns
under one tool list (some with masked names), or one-turn evaluation rows, an equal number per
category. Every row is verified (``verify``); a refused one is counted by reason and replaced.

Rows are in the project's OpenAI format (``messages`` with ``tool_calls``, ``tools``, and the
first turn's ``category``), the one ``dataset_validation`` and the trainer read.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from configs.settings import DataConfig
from llm.tool_messages import tool_message_content
from train_app.schema_rows import results
from train_app.schema_rows.masking import masked_row
from train_app.schema_rows.phrasing import Patterns
from train_app.schema_rows.spoken import LANGUAGES, Language
from train_app.schema_rows.turns import (
    CATEGORIES,
    Call,
    Context,
    Exchange,
    ToolSet,
    first_turn,
    follow_up,
)
from train_app.schema_rows.values import NoValue
from train_app.schema_rows.verify import row_problem
from train_app.tool_library import ChatQuestion

ATTEMPTS_PER_ROW = 4
IRRELEVANT_SHARE = 0.6  # of the turns no offered tool fits; the rest are general questions
SIMPLE_SHARE = 0.3  # of the one-call turns: one tool offered; the rest offer siblings too
ANSWERED_LAST_SHARE = 0.5  # of rows ending in calls, those whose results come back answered
# Fills the results of calls to tools that run (the registry's); the rest are made up.
Runner = Callable[[list[Call]], None]
Conversation = tuple[ToolSet, list[dict[str, Any]], list[Exchange]]


@dataclass
class Tally:
    """What was made: rows by category, turns by kind, masked rows, refusals by reason."""

    rows: Counter[str] = field(default_factory=Counter)
    turns: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    masked: int = 0

    def add(self, exchanges: list[Exchange], masked: bool) -> None:
        self.rows[exchanges[0].category] += 1
        for exchange in exchanges:
            self.turns[exchange.category] += 1
            self.turns["tool_result"] += exchange.answered
        self.masked += masked

    def merge(self, other: Tally) -> None:
        self.rows.update(other.rows)
        self.turns.update(other.turns)
        self.rejected.update(other.rejected)
        self.masked += other.masked

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": dict(sorted(self.rows.items())),
            "turns": dict(sorted(self.turns.items())),
            "masked_rows": self.masked,
            "rejected": dict(sorted(self.rejected.items())),
        }


def turn_mix(data: DataConfig) -> dict[str, float]:
    """The share of each category among generated training turns."""
    calls = 1.0 - data.no_tool_share - data.parallel_share
    if calls <= 0:
        raise ValueError("data.no_tool_share + data.parallel_share must be below 1")
    return {
        "simple": calls * SIMPLE_SHARE,
        "multiple": calls * (1 - SIMPLE_SHARE),
        "parallel": data.parallel_share / 2,
        "parallel_multiple": data.parallel_share / 2,
        "irrelevance": data.no_tool_share * IRRELEVANT_SHARE,
        "chat": data.no_tool_share * (1 - IRRELEVANT_SHARE),
    }


def training_rows(
    sets: Sequence[ToolSet],
    count: int,
    data: DataConfig,
    rng: random.Random,
    questions: Sequence[ChatQuestion],
    run: Runner | None = None,
) -> tuple[list[dict[str, Any]], Tally]:
    """``count`` verified training rows offering the tools of ``sets`` (fewer only when most
    attempts are refused: the tally says why)."""
    tally = Tally()
    if not sets or count <= 0:
        return [], tally
    mix = turn_mix(data)
    rows: list[dict[str, Any]] = []
    attempts = 0
    while len(rows) < count and attempts < count * ATTEMPTS_PER_ROW:
        batch: list[Conversation] = []
        for _ in range(count - len(rows)):
            attempts += 1
            language = rng.choice(LANGUAGES)
            ctx = Context(rng, language, "train", sets, _asked(questions, language))
            tool_set = rng.choice(sets)
            turns = rng.randint(1, data.max_exchanges)
            try:
                batch.append((tool_set, *_conversation(ctx, tool_set, mix, turns)))
            except NoValue as reason:
                tally.rejected[f"no value: {reason}"] += 1
        _fill_results(rng, batch, sets, run)
        for _, offered, exchanges in batch:
            row, masked = render(rng, offered, exchanges), False
            if rng.random() < data.masked_share:
                renamed = masked_row(rng, row)
                if renamed is not None:
                    row, masked = renamed, True
            if _refused(row, tally):
                continue
            rows.append(row)
            tally.add(exchanges, masked)
    return rows, tally


def eval_rows(
    sets: Sequence[ToolSet],
    per_category: int,
    rng: random.Random,
    questions: Sequence[ChatQuestion],
    categories: Sequence[str] = CATEGORIES,
    patterns: Patterns = "all",
) -> tuple[list[dict[str, Any]], Tally]:
    """``per_category`` one-turn rows of each category, in turn (the first N rows cover every
    category evenly); languages alternate. Only the first reply is scored: no results."""
    tally = Tally()
    rows: list[dict[str, Any]] = []
    if not sets:
        return rows, tally
    for index in range(per_category):
        language = LANGUAGES[index % len(LANGUAGES)]
        ctx = Context(rng, language, patterns, sets, _asked(questions, language), False)
        for category in categories:
            for _ in range(ATTEMPTS_PER_ROW * 4):
                try:
                    offered, exchange = first_turn(ctx, rng.choice(sets), category)
                except NoValue as reason:
                    tally.rejected[f"no value: {reason}"] += 1
                    continue
                row = render(rng, offered, [exchange])
                if not _refused(row, tally):
                    rows.append(row)
                    tally.add([exchange], False)
                    break
    return rows, tally


def _asked(questions: Sequence[ChatQuestion], language: Language) -> list[ChatQuestion]:
    return [q for q in questions if q.language == language]


def _conversation(
    ctx: Context, tool_set: ToolSet, mix: dict[str, float], turns: int
) -> tuple[list[dict[str, Any]], list[Exchange]]:
    offered, first = first_turn(ctx, tool_set, _pick(ctx.rng, mix))
    exchanges = [first]
    for _ in range(turns - 1):
        exchanges.append(follow_up(ctx, tool_set, offered, _pick(ctx.rng, mix)))
    for index, exchange in enumerate(exchanges):
        last = index == len(exchanges) - 1
        exchange.answered = bool(exchange.calls) and (
            not last or ctx.rng.random() < ANSWERED_LAST_SHARE
        )
    return offered, exchanges


def _pick(rng: random.Random, mix: dict[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def _refused(row: dict[str, Any], tally: Tally) -> bool:
    problem = row_problem(row)
    if problem is not None:
        tally.rejected[problem[0]] += 1
    return problem is not None


def _fill_results(
    rng: random.Random, batch: list[Conversation], sets: Sequence[ToolSet], run: Runner | None
) -> None:
    runnable = {t["function"]["name"] for s in sets if s.runs for t in s.tools}
    to_run = []
    for _, _, exchanges in batch:
        for call in (c for e in exchanges if e.answered for c in e.calls):
            if run is not None and call.name in runnable:
                to_run.append(call)
            else:
                call.result = results.synthetic_result(rng, call.tool["function"], call.arguments)
                call.has_result = True
    if to_run and run is not None:
        run(to_run)


def render(
    rng: random.Random, offered: list[dict[str, Any]], exchanges: list[Exchange]
) -> dict[str, Any]:
    """The row of a conversation: its messages, the tools it offers and its category."""
    messages: list[dict[str, Any]] = []
    for turn, exchange in enumerate(exchanges):
        messages.append({"role": "user", "content": exchange.text})
        if not exchange.calls:
            messages.append({"role": "assistant", "content": exchange.answer})
            continue
        ids = [f"call_{turn}_{index}" for index in range(len(exchange.calls))]
        calls = [
            {"id": i, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in zip(ids, exchange.calls, strict=True)
        ]
        messages.append({"role": "assistant", "content": "", "tool_calls": calls})
        if not exchange.answered:
            continue
        answers = []
        for call_id, call in zip(ids, exchange.calls, strict=True):
            content = tool_message_content(not call.error, call.result, call.error)
            messages.append(
                {"role": "tool", "tool_call_id": call_id, "name": call.name, "content": content}
            )
            answers.append(results.answer(rng, call.result, call.error, exchange.language))
        messages.append(
            {
                "role": "assistant",
                "content": ("" if exchange.language == "zh" else " ").join(answers),
            }
        )
    return {"messages": messages, "tools": offered, "category": exchanges[0].category}
