"""Generate tool-calling conversations for any tool set, for training and for held-out evaluation.

A training row offers one to four tools (library tools not held out, and the registry's own:
built-in and MCP servers' tools) and holds one to ``max_exchanges`` user turns under that list.
Each turn is one of:

- ``call``: one offered tool fits; the reply calls it (``simple`` with one tool offered,
  ``multiple`` with several), the result comes back and the answer uses it;
- ``parallel``: two or three requests in one turn, called together;
- ``irrelevance``: the request needs a tool that is not offered; the answer says so;
- ``chat``: a general question, answered in words.

Evaluation rows ask, in one turn each, the tools held out of training entirely (the four
categories of the Berkeley Function Calling Leaderboard) and the registry's tools in phrasings
kept out of training (``registry``). Rows are in the OpenAI messages format that the model's own
chat template renders; each carries its ``category``. ``dataset_mix`` decides which rows a job
takes from here (the built-in tools' own rows; library rows only where configured).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from configs.settings import DataConfig
from llm.tool_messages import tool_message_content
from tools.registry import ToolRegistry
from tools.tool_spec import ToolSpec
from train_app.slot_values import LANGUAGES, Language, said_plainly
from train_app.tool_library import (
    PLACEHOLDER,
    ChatQuestion,
    LibraryTool,
    load_chat,
    load_library,
    load_phrasings,
)
from train_app.tool_requests import Request, RequestMaker

logger = logging.getLogger(__name__)

# Of the turns no offered tool fits: requests for a tool that is not offered; the rest are
# general questions.
IRRELEVANT_REQUEST_SHARE = 0.6
EVAL_CATEGORIES = ("simple", "multiple", "parallel", "irrelevance", "registry")
MAX_OFFERED = 4
MAX_RESULT_CHARS = 600


@dataclass
class Call:
    maker: RequestMaker
    request: Request
    result: Any = None
    error: str | None = None
    has_result: bool = False


@dataclass
class Exchange:
    category: str
    language: Language
    text: str
    calls: list[Call] = field(default_factory=list)
    answer: str | None = None  # set for turns without calls; else written after the results


def tool_makers(specs: Sequence[ToolSpec | dict[str, Any]]) -> list[RequestMaker]:
    """A maker per registry tool: the library's templates where it has the tool, else its schema."""
    library = load_library()
    makers = []
    for spec in specs:
        schema = spec.openai_schema() if isinstance(spec, ToolSpec) else spec
        makers.append(RequestMaker(schema, library.get(schema["function"]["name"])))
    return makers


def library_makers(heldout: bool, exclude: set[str]) -> list[RequestMaker]:
    """The library's synthetic tools, held out or not (built-ins come from the registry)."""
    return [
        RequestMaker(tool.openai_schema(), tool)
        for tool in load_library().values()
        if tool.parameters is not None and tool.heldout == heldout and tool.name not in exclude
    ]


def generate_training_rows(
    specs: Sequence[ToolSpec | dict[str, Any]], registry: ToolRegistry | None, data: DataConfig
) -> list[dict[str, Any]]:
    """``data.num_generated_examples`` training rows; no held-out library tool is ever offered
    in one."""
    if data.no_tool_share + data.parallel_share >= 1.0:
        raise ValueError("data.no_tool_share + data.parallel_share must be below 1")
    rng = random.Random(f"train:{data.seed}")
    registry_makers = tool_makers(specs)
    synthetic = library_makers(False, {m.name for m in registry_makers})
    outside = [*synthetic, *registry_makers]
    chat = [q for q in load_chat() if not q.heldout]
    mix = {
        "call": 1.0 - data.no_tool_share - data.parallel_share,
        "parallel": data.parallel_share,
        "irrelevance": data.no_tool_share * IRRELEVANT_REQUEST_SHARE,
        "chat": data.no_tool_share * (1.0 - IRRELEVANT_REQUEST_SHARE),
    }
    conversations = []
    for _ in range(data.num_generated_examples):
        use_registry = registry_makers and rng.random() < data.registry_share
        offered = _offer(rng, registry_makers if use_registry else synthetic, outside)
        language = rng.choice(LANGUAGES)
        exchanges = [
            _exchange(rng, _category(rng, mix), offered, outside, chat, language, heldout=False)
            for _ in range(rng.randint(1, data.max_exchanges))
        ]
        conversations.append((offered, exchanges))
    return _rows(conversations, registry)


def generate_eval_rows(
    specs: Sequence[ToolSpec | dict[str, Any]],
    per_category: int,
    seed: int,
    categories: Sequence[str] = EVAL_CATEGORIES,
) -> list[dict[str, Any]]:
    """``per_category`` one-turn rows of each of ``categories``; library categories offer
    held-out tools only, ``registry`` offers every registry tool (as serving does). Only the
    first reply is scored, so no tool runs."""
    rng = random.Random(f"eval:{seed}")
    registry_makers = tool_makers(specs)
    heldout = library_makers(True, {m.name for m in registry_makers})
    chat = [q for q in load_chat() if q.heldout]
    conversations = []
    # Round-robin over the categories, so the first N rows (training.eval_max_examples) still
    # cover every category evenly.
    for index in range(per_category):
        language = LANGUAGES[index % 2]
        for category in categories:
            if category == "registry":
                if not registry_makers:
                    continue
                offered = list(registry_makers)
                exchange = _call_exchange(rng, "simple", offered, language, heldout=True)
                exchange.category = "registry"
            else:
                size = 1 if category == "simple" else rng.randint(2, min(MAX_OFFERED, 3))
                offered = rng.sample(heldout, size)
                exchange = _exchange(rng, category, offered, heldout, chat, language, heldout=True)
            conversations.append((offered, [exchange]))
    return _rows(conversations, None)


def _category(rng: random.Random, mix: dict[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def _offer(
    rng: random.Random, pool: list[RequestMaker], outside: list[RequestMaker]
) -> list[RequestMaker]:
    """One to four tools: from ``pool``, sometimes with a distractor from the whole set."""
    size = rng.randint(1, min(MAX_OFFERED, len(pool)))
    offered = rng.sample(pool, size)
    if size < MAX_OFFERED and rng.random() < 0.3:
        extra = [m for m in outside if m not in offered]
        offered.append(rng.choice(extra))
    rng.shuffle(offered)
    return offered


def _exchange(
    rng: random.Random,
    category: str,
    offered: list[RequestMaker],
    outside: list[RequestMaker],
    chat: list[ChatQuestion],
    language: Language,
    heldout: bool,
) -> Exchange:
    if category in ("call", "simple", "multiple"):
        kind = "simple" if len(offered) == 1 else "multiple"
        return _call_exchange(rng, kind, offered, language, heldout)
    if category == "parallel":
        return _parallel_exchange(rng, offered, language, heldout)
    absent = [m for m in outside if m not in offered and _unrelated(m, offered)]
    questions = [q for q in chat if q.language == language]
    if category == "chat" or not absent or (heldout and questions and rng.random() < 0.3):
        question = rng.choice(questions)
        return Exchange(
            "irrelevance" if heldout else "chat",
            language,
            question.question,
            answer=question.answer,
        )
    request = rng.choice(absent).make(rng, language, heldout)
    phrasings = load_phrasings()
    names = ("、" if language == "zh" else ", ").join(m.name for m in offered)
    answer = rng.choice(phrasings["refusals"][language]).format(tools=names)
    return Exchange("irrelevance", language, request.text, answer=answer)


def _unrelated(candidate: RequestMaker, offered: list[RequestMaker]) -> bool:
    """A tool of another domain than every offered one, so none of them could serve its request."""
    domain = candidate.library.domain if candidate.library else None
    return all((m.library.domain if m.library else None) != domain for m in offered)


def _call_exchange(
    rng: random.Random, kind: str, offered: list[RequestMaker], language: Language, heldout: bool
) -> Exchange:
    maker = rng.choice(offered)
    request = maker.make(rng, language, heldout)
    return Exchange(kind, language, request.text, [Call(maker, request)])


def _parallel_exchange(
    rng: random.Random, offered: list[RequestMaker], language: Language, heldout: bool
) -> Exchange:
    phrasings = load_phrasings()
    calls: list[Call] = []
    for _ in range(rng.choice((2, 2, 3))):
        maker = rng.choice(offered)
        request = maker.make(rng, language, heldout)
        if all(request.arguments != c.request.arguments or c.maker is not maker for c in calls):
            calls.append(Call(maker, request))
    text = _sentence(calls[0].request.text, language)
    for call in calls[1:]:
        joiner = rng.choice(phrasings["joiners"][language])
        text = joiner.format(a=text, b=_sentence(call.request.text, language))
    return Exchange("parallel" if len(calls) > 1 else "simple", language, text, calls)


def _sentence(text: str, language: Language) -> str:
    text = text.strip()
    if text[-1:] in ".?!。？！":
        return text
    return text + ("。" if language == "zh" else ".")


def _rows(
    conversations: list[tuple[list[RequestMaker], list[Exchange]]], registry: ToolRegistry | None
) -> list[dict[str, Any]]:
    calls = [call for _, exchanges in conversations for e in exchanges for call in e.calls]
    _results(calls, registry)
    rng = random.Random(len(calls))
    rows = []
    for offered, exchanges in conversations:
        messages: list[dict[str, Any]] = []
        for turn, exchange in enumerate(exchanges):
            messages += _messages(rng, exchange, turn)
        rows.append(
            {
                "messages": messages,
                "tools": [maker.schema for maker in offered],
                "category": exchanges[0].category,
            }
        )
    return rows


def _messages(rng: random.Random, exchange: Exchange, turn: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": exchange.text}]
    if not exchange.calls:
        return messages + [{"role": "assistant", "content": exchange.answer}]
    ids = [f"call_{turn}_{index}" for index in range(len(exchange.calls))]
    messages.append(
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.maker.name, "arguments": call.request.arguments},
                }
                for call_id, call in zip(ids, exchange.calls, strict=True)
            ],
        }
    )
    if not all(call.has_result for call in exchange.calls):
        return messages  # a tool known only by its schema: the row ends at the call
    for call_id, call in zip(ids, exchange.calls, strict=True):
        text = tool_message_content(not call.error, call.result, call.error)
        messages.append(
            {"role": "tool", "tool_call_id": call_id, "name": call.maker.name, "content": text}
        )
    joiner = load_phrasings()["answer_joiners"][exchange.language]
    answer = joiner.join(_answer(rng, call, exchange.language) for call in exchange.calls)
    return messages + [{"role": "assistant", "content": answer}]


def _results(calls: list[Call], registry: ToolRegistry | None) -> None:
    """Fill each call's result: the library's made-up result, or a real run in the registry."""
    to_run = []
    for call in calls:
        library = call.maker.library
        if library is not None and not library.run and library.result is not None:
            call.result = _filled(library.result, call.request.arguments)
            call.has_result = True
        elif registry is not None and registry.get(call.maker.name) is not None:
            to_run.append(call)
    if to_run:
        asyncio.run(_run_all(registry, to_run))  # type: ignore[arg-type]


async def _run_all(registry: ToolRegistry, calls: list[Call]) -> None:
    outcomes = await registry.execute_many([(c.maker.name, c.request.arguments) for c in calls])
    for call, outcome in zip(calls, outcomes, strict=True):
        call.has_result = True
        call.result, call.error = outcome.result, (None if outcome.ok else outcome.error)


def _filled(template: Any, arguments: dict[str, Any]) -> Any:
    """The library's result with ``"{slot}"`` strings replaced by the call's argument values."""
    if isinstance(template, dict):
        return {key: _filled(value, arguments) for key, value in template.items()}
    if isinstance(template, list):
        return [_filled(value, arguments) for value in template]
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole:
            return _lookup(arguments, whole.group(1), template)
        return PLACEHOLDER.sub(lambda m: said_plainly(_lookup(arguments, m.group(1), "")), template)
    return template


def _lookup(values: Any, path: str, default: Any) -> Any:
    for key in path.split("."):
        if not isinstance(values, dict) or key not in values:
            return default
        values = values[key]
    return values


def _answer(rng: random.Random, call: Call, language: Language) -> str:
    phrasings = load_phrasings()
    if call.error:
        return rng.choice(phrasings["failures"][language]).format(
            tool=call.maker.name, error=call.error
        )
    library: LibraryTool | None = call.maker.library
    if library is not None and library.answers[language]:
        template = rng.choice(library.answers[language])
        context = {"result": call.result}

        def value(match: Any) -> str:
            key = match.group(1)
            if key.startswith("result."):
                found = _lookup(context, key, None)
            else:
                found = call.request.said.get(key, _lookup(call.request.arguments, key, None))
            if found is None:
                raise KeyError(key)
            return said_plainly(found)

        try:
            return PLACEHOLDER.sub(value, template)
        except KeyError:
            pass  # the result lacks a key the template names: say the result as it is
    return rng.choice(phrasings["generic_answers"][language]).format(
        tool=call.maker.name, facts=_facts(call.result, language)
    )


def _facts(result: Any, language: Language) -> str:
    if isinstance(result, dict) and result:
        separator = "，" if language == "zh" else "; "
        pairs = [f"{key}: {said_plainly(value)}" for key, value in list(result.items())[:6]]
        return separator.join(pairs)[:MAX_RESULT_CHARS]
    return said_plainly(result)[:MAX_RESULT_CHARS]
