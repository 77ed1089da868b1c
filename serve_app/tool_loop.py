"""A chat turn with tools: model → tool calls → tool results → model, for capped rounds.

Tool output is untrusted: a web page, a file or another server's answer may say "call
write_file". So a call of a tool outside the request's allowed set is refused here, where calls
are run, whatever the model was told or tricked into; and the model reads every result marked as
data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from llm.generation import GenerationResult
from llm.tool_messages import tool_message_content
from serve_app import metrics

Generate = Callable[[list[dict[str, Any]]], Awaitable[GenerationResult]]
ExecuteTools = Callable[[list[tuple[str, Any]]], Awaitable[list[dict[str, Any]]]]

logger = logging.getLogger("ray.serve")


@dataclass
class ToolLoopResult:
    first: GenerationResult
    last: GenerationResult
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[Any] = field(default_factory=list)
    tool_call_errors: list[str] = field(default_factory=list)
    # Format of each call read from JSON instead of <tool_call> tags, over all rounds.
    recovered: list[str] = field(default_factory=list)
    rounds: int = 0


def refusal(name: str, arguments: Any, allowed: Collection[str]) -> dict[str, Any]:
    """The outcome of a call of a tool the request does not allow: an error, nothing run."""
    shown = ", ".join(sorted(allowed)) or "none"
    return {
        "name": name,
        "arguments": arguments if isinstance(arguments, dict) else {},
        "ok": False,
        "result": None,
        "error": f"tool {name!r} is not allowed in this request (allowed: {shown})",
        "error_kind": "not_allowed",
    }


async def execute_allowed(
    calls: list[tuple[str, Any]], execute_tools: ExecuteTools, allowed: Collection[str]
) -> list[dict[str, Any]]:
    """Outcomes in the order of ``calls``: those of allowed tools run, the others are refused."""
    runnable = [call for call in calls if call[0] in allowed]
    ran = iter(await execute_tools(runnable) if runnable else [])
    outcomes = []
    for name, arguments in calls:
        if name in allowed:
            outcomes.append(next(ran))
        else:
            logger.warning("chat: refused a call of %s, which the request does not allow", name)
            metrics.record_tool_call(name, "not_allowed")
            outcomes.append(refusal(name, arguments, allowed))
    return outcomes


def unavailable_answer(outcomes: list[dict[str, Any]]) -> GenerationResult:
    """The final answer when every call of a round found its service unreachable: what each
    error says (that the service could not be reached, so there is no live data), once."""
    text = " ".join(dict.fromkeys(outcome["error"] for outcome in outcomes))
    return GenerationResult(text=text, content=text)


def assistant_turn(result: GenerationResult) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": result.content,
        "tool_calls": [
            {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in result.tool_calls
        ],
    }


async def run_tool_loop(
    messages: list[dict[str, Any]],
    generate: Generate,
    execute_tools: ExecuteTools,
    max_rounds: int,
    allowed: Collection[str],
) -> ToolLoopResult:
    """Run tool rounds until the model answers without calls or ``max_rounds`` tool rounds ran.

    Only calls of ``allowed`` tools run; any other call gets an error result the model reads,
    and is reported in ``tool_call_errors``. The last generation after the final round is the
    answer even if it asks for more tools; the request then reports that the round limit was
    reached. A round whose every call found its service unavailable ends the turn with those
    errors as the answer (``unavailable_answer``), not a generation.
    """
    transcript = list(messages)
    first = last = await generate(transcript)
    loop = ToolLoopResult(
        first=first,
        last=last,
        tool_call_errors=first.tool_call_errors + first.guard,
        recovered=list(first.recovered),
    )
    while last.tool_calls:
        if loop.rounds == max_rounds:
            loop.tool_call_errors.append(
                f"stopped after {max_rounds} tool rounds; the model still asked for "
                f"{[c['name'] for c in last.tool_calls]}"
            )
            break
        calls = [(c["name"], c["arguments"]) for c in last.tool_calls]
        outcomes = await execute_allowed(calls, execute_tools, allowed)
        refused = [o["error"] for o in outcomes if o["error_kind"] == "not_allowed"]
        loop.tool_call_errors.extend(refused)
        transcript.append(assistant_turn(last))
        for outcome in outcomes:
            transcript.append(
                {
                    "role": "tool",
                    "name": outcome["name"],
                    "content": tool_message_content(
                        outcome["ok"], outcome["result"], outcome["error"]
                    ),
                }
            )
        loop.tool_calls.extend(last.tool_calls)
        loop.tool_results.extend(
            o["result"] if o["ok"] else {"error": o["error"], "error_kind": o["error_kind"]}
            for o in outcomes
        )
        loop.rounds += 1
        if all(outcome["error_kind"] == "unavailable" for outcome in outcomes):
            # Nothing came back to answer from, and a small model then makes the data up (the
            # shipped model wrote "最高气温26摄氏度" after reading that the weather service
            # could not be reached): the answer is the services' own statement.
            loop.last = unavailable_answer(outcomes)
            break
        last = await generate(transcript)
        loop.last = last
        loop.tool_call_errors.extend(last.tool_call_errors + last.guard)
        loop.recovered.extend(last.recovered)
    return loop
