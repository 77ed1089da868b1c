"""A chat turn with tools: model → tool calls → tool results → model, for capped rounds."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from llm.generation import GenerationResult

Generate = Callable[[list[dict[str, Any]]], Awaitable[GenerationResult]]
ExecuteTools = Callable[[list[tuple[str, Any]]], Awaitable[list[dict[str, Any]]]]


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


def tool_message_content(outcome: dict[str, Any]) -> str:
    """What the model reads back: the result, or the error so it can correct itself."""
    payload = outcome["result"] if outcome["ok"] else {"error": outcome["error"]}
    return json.dumps(payload, ensure_ascii=False)


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
) -> ToolLoopResult:
    """Run tool rounds until the model answers without calls or ``max_rounds`` tool rounds ran.

    The last generation after the final round is the answer even if it asks for more tools; the
    request then reports that the round limit was reached.
    """
    transcript = list(messages)
    first = last = await generate(transcript)
    loop = ToolLoopResult(
        first=first,
        last=last,
        tool_call_errors=list(first.tool_call_errors),
        recovered=list(first.recovered),
    )
    while last.tool_calls:
        if loop.rounds == max_rounds:
            loop.tool_call_errors.append(
                f"stopped after {max_rounds} tool rounds; the model still asked for "
                f"{[c['name'] for c in last.tool_calls]}"
            )
            break
        outcomes = await execute_tools([(c["name"], c["arguments"]) for c in last.tool_calls])
        transcript.append(assistant_turn(last))
        for outcome in outcomes:
            transcript.append(
                {"role": "tool", "name": outcome["name"], "content": tool_message_content(outcome)}
            )
        loop.tool_calls.extend(last.tool_calls)
        loop.tool_results.extend(
            o["result"] if o["ok"] else {"error": o["error"], "error_kind": o["error_kind"]}
            for o in outcomes
        )
        loop.rounds += 1
        last = await generate(transcript)
        loop.last = last
        loop.tool_call_errors.extend(last.tool_call_errors)
        loop.recovered.extend(last.recovered)
    return loop
