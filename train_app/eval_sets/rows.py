"""Evaluation rows from the hand-written sets, on the corpus's held-out APIs.

Generated rows word requests from a tool's schema, so they share the generator's habits; these
sets measure the same skills on requests people write: ``handwritten`` rows (category
``handwritten``) call held-out tools as real users ask, with values said in words ("three days"
for 72 hours); ``general`` rows ask questions no tool answers while a held-out API's tools are
offered, where the right reply is an answer, not a call or a refusal. Nothing here is verified
by ``schema_rows.verify`` (its "value said" check would refuse values said in words): each call
is checked against its tool's schema instead.
"""

from __future__ import annotations

import functools
import logging
import random
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from train_app.api_corpus.split import CorpusSplit
from train_app.schema_rows.verify import first_schema_error

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
HANDWRITTEN_FILE = HERE / "handwritten.yaml"
GENERAL_FILE = HERE / "general_questions.yaml"
MAX_OFFERED = 4  # tools a row offers, as in generated rows
MIN_OFFERED = 2  # tools offered with a general question, at the least
CALLS_BY_CATEGORY = {"simple": 1, "multiple": 1, "parallel": 2, "irrelevance": 0}


class ExpectedCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class HandwrittenEntry(BaseModel):
    """One request: the API, the tools offered in order, and the calls its words ask for."""

    model_config = ConfigDict(extra="forbid")

    api: str = Field(description="ToolGroup.api of a held-out API")
    offered: list[str] = Field(min_length=1, max_length=MAX_OFFERED)
    request: str = Field(min_length=1)
    language: Literal["en", "zh"]
    calls: list[ExpectedCall]
    category: Literal["simple", "multiple", "parallel", "irrelevance"]

    @model_validator(mode="after")
    def _shape_fits_category(self) -> HandwrittenEntry:
        if len(self.calls) != CALLS_BY_CATEGORY[self.category]:
            raise ValueError(
                f"a {self.category} entry makes {CALLS_BY_CATEGORY[self.category]} call(s)"
            )
        if self.category == "simple" and len(self.offered) != 1:
            raise ValueError("a simple entry offers one tool")
        if self.category == "multiple" and len(self.offered) < 2:
            raise ValueError("a multiple entry offers its tool's siblings too")
        stray = [call.name for call in self.calls if call.name not in self.offered]
        if stray:
            raise ValueError(f"calls {stray} are not offered")
        return self


class HandwrittenSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[HandwrittenEntry]


class GeneralQuestions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    en: list[str]
    zh: list[str]

    def all(self) -> list[str]:
        return self.en + self.zh


@functools.cache
def load_handwritten(path: Path = HANDWRITTEN_FILE) -> tuple[HandwrittenEntry, ...]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(HandwrittenSet.model_validate(raw).entries)


@functools.cache
def load_general_questions(path: Path = GENERAL_FILE) -> GeneralQuestions:
    return GeneralQuestions.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def handwritten_rows(
    split: CorpusSplit, entries: tuple[HandwrittenEntry, ...] | None = None
) -> list[dict[str, Any]]:
    """A row per entry whose API is held out in ``split`` (others are skipped: a split of other
    settings, or a small test corpus, lacks them). ValueError, naming the entry, when an entry's
    tool is not in its API or a call does not validate against the tool's schema."""
    entries = load_handwritten() if entries is None else entries
    groups = {group.api: group for group in split.eval}
    rows: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        group = groups.get(entry.api)
        if group is None:
            continue
        where = f"handwritten entry {index} ({entry.api}: {entry.request[:40]!r})"
        tools = {tool["function"]["name"]: tool for tool in group.tools}
        missing = [name for name in entry.offered if name not in tools]
        if missing:
            raise ValueError(f"{where}: {entry.api} has no tool {', '.join(missing)}")
        for call in entry.calls:
            parameters = tools[call.name]["function"].get("parameters") or {"type": "object"}
            problem = first_schema_error(parameters, call.arguments)
            if problem is not None:
                raise ValueError(f"{where}: {call.name} arguments {problem}")
        offered = [tools[name] for name in entry.offered]
        rows.append(_row(entry.request, offered, entry.calls, "handwritten"))
    if len(rows) < len(entries):
        logger.info(
            "%d hand-written entries skipped: their APIs are not held out here",
            len(entries) - len(rows),
        )
    return rows


def general_rows(split: CorpusSplit, rng: random.Random) -> list[dict[str, Any]]:
    """A row per general question, each offering 2-4 tools of a held-out API drawn by ``rng``."""
    groups = [group for group in split.eval if len(group.entries) >= MIN_OFFERED]
    if not groups:
        return []
    rows = []
    for question in load_general_questions().all():
        tools = rng.choice(groups).tools
        count = rng.randint(MIN_OFFERED, min(MAX_OFFERED, len(tools)))
        rows.append(_row(question, rng.sample(tools, count), [], "general"))
    return rows


def _row(
    request: str, tools: list[dict[str, Any]], calls: list[ExpectedCall], category: str
) -> dict[str, Any]:
    """One user turn and the reply due, in the shape ``schema_rows.maker.render`` writes."""
    reply: dict[str, Any] = {"role": "assistant", "content": ""}
    if calls:
        reply["tool_calls"] = [
            {
                "id": f"call_0_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for index, call in enumerate(calls)
        ]
    return {
        "messages": [{"role": "user", "content": request}, reply],
        "tools": tools,
        "category": category,
    }
