"""Tool-call accuracy: does the model's first reply call the right tool with the right arguments?"""

from __future__ import annotations

import json
from typing import Any

from llm.generation import GenerationRequest, GenerationResult, generate_batch
from llm.loading import LoadedModel
from tools.tool_calls import decode_arguments


def normalize_arguments(arguments: Any) -> str:
    """Canonical JSON of call arguments: key order and string-vs-object encoding do not matter."""
    decoded = decode_arguments(arguments)
    if isinstance(arguments, str) and decoded is arguments:
        return arguments  # not JSON: compared as written
    return json.dumps(decoded, sort_keys=True, ensure_ascii=False)


def first_turn(row: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The messages before the first assistant reply, and the calls it makes (maybe none)."""
    messages = row["messages"]
    index = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    calls = [call.get("function", call) for call in (messages[index].get("tool_calls") or [])]
    return messages[:index], [{"name": c["name"], "arguments": c["arguments"]} for c in calls]


def call_matches(expected: list[dict[str, Any]], result: GenerationResult) -> bool:
    if result.tool_call_errors:
        return False
    predicted = result.tool_calls
    key = lambda call: (call["name"], normalize_arguments(call["arguments"]))  # noqa: E731
    return sorted(map(key, expected)) == sorted(map(key, predicted))


def evaluate_tool_calls(
    loaded: LoadedModel,
    rows: list[dict[str, Any]],
    batch_size: int = 16,
    max_new_tokens: int = 96,
) -> dict[str, Any]:
    """Greedy-decode each row's first reply and score it; returns accuracy and a few misses.

    ``by_tool`` splits the exact accuracy by the tool the row should call ("none": rows where
    the model must answer directly), so an operator sees which tools a model still gets wrong.
    """
    correct = name_correct = 0
    by_tool: dict[str, dict[str, int]] = {}
    misses: list[dict[str, Any]] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        turns = [first_turn(row) for row in chunk]
        requests = [
            GenerationRequest(
                messages=prompt,
                tools=row.get("tools"),
                max_new_tokens=max_new_tokens,
                max_length=loaded.model.config.max_position_embeddings,
            )
            for row, (prompt, _) in zip(chunk, turns, strict=True)
        ]
        for (prompt, expected), result in zip(turns, generate_batch(loaded, requests), strict=True):
            if isinstance(result, Exception):
                raise result
            expected_names = sorted(c["name"] for c in expected)
            key = "+".join(expected_names) or "none"
            tally = by_tool.setdefault(key, {"correct": 0, "total": 0})
            tally["total"] += 1
            if call_matches(expected, result):
                correct += 1
                tally["correct"] += 1
            elif len(misses) < 5:
                misses.append(
                    {"user": prompt[-1]["content"], "expected": expected, "got": result.text}
                )
            name_correct += expected_names == sorted(c["name"] for c in result.tool_calls)
    total = len(rows)
    return {
        "accuracy": round(correct / total, 4) if total else 0.0,
        "tool_name_accuracy": round(name_correct / total, 4) if total else 0.0,
        "correct": correct,
        "total": total,
        "by_tool": {
            name: {**tally, "accuracy": round(tally["correct"] / tally["total"], 4)}
            for name, tally in sorted(by_tool.items())
        },
        "misses": misses,
    }
