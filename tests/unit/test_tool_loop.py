"""The model → tools → model loop, with scripted model replies (no Ray, no model)."""

from __future__ import annotations

import asyncio
import json

from llm.generation import GenerationResult
from llm.tool_messages import DATA_NOTE
from serve_app.tool_loop import run_tool_loop

ALLOWED = {"calculate", "broken", "get_weather"}
OFFLINE = (
    "The weather service could not be reached, so the answer cannot include live data from it."
)


def run(generate, max_rounds: int = 3, allowed=ALLOWED, text: str = "x"):
    messages = [{"role": "user", "content": text}]
    return asyncio.run(run_tool_loop(messages, generate, execute, max_rounds, allowed))


def reply(content: str = "", calls: list[dict] | None = None) -> GenerationResult:
    return GenerationResult(text=content, content=content, tool_calls=calls or [])


def scripted(*replies: GenerationResult):
    seen: list[list[dict]] = []
    queue = list(replies)

    async def generate(transcript):
        seen.append(list(transcript))
        return queue.pop(0)

    return generate, seen


executed: list[str] = []


async def execute(calls):
    executed.extend(n for n, _ in calls)
    failures = {"broken": ("boom", "tool_error"), "get_weather": (OFFLINE, "unavailable")}
    return [
        {
            "name": n,
            "arguments": a,
            "ok": n == "calculate",
            "result": 345 if n == "calculate" else None,
            "error": failures[n][0] if n in failures else None,
            "error_kind": failures[n][1] if n in failures else None,
        }
        for n, a in calls
    ]


def test_tool_results_go_back_to_the_model_as_tool_messages():
    generate, seen = scripted(
        reply(calls=[{"name": "calculate", "arguments": {"expression": "15*23"}}]),
        reply("15 * 23 = 345"),
    )
    result = run(generate, text="15*23?")
    assert result.rounds == 1
    assert result.tool_results == [345]
    assert result.last.content == "15 * 23 = 345"
    second_prompt = seen[1]
    assert second_prompt[1]["role"] == "assistant" and second_prompt[1]["tool_calls"]
    assert second_prompt[2]["role"] == "tool" and second_prompt[2]["name"] == "calculate"
    assert json.loads(second_prompt[2]["content"]) == {"note": DATA_NOTE, "result": 345}


def test_tool_errors_are_shown_to_the_model_not_raised():
    generate, seen = scripted(reply(calls=[{"name": "broken", "arguments": {}}]), reply("sorry"))
    result = run(generate)
    assert result.tool_results == [{"error": "boom", "error_kind": "tool_error"}]
    assert '"error": "boom"' in seen[1][-1]["content"]


def test_rounds_are_capped():
    call = reply(calls=[{"name": "calculate", "arguments": {"expression": "1"}}])
    generate, _ = scripted(call, call, call)
    result = run(generate, max_rounds=2)
    assert result.rounds == 2
    assert "stopped after 2 tool rounds" in result.tool_call_errors[-1]


def test_direct_answer_runs_no_tools():
    generate, seen = scripted(reply("你好"))
    result = run(generate, text="hi")
    assert result.rounds == 0 and result.tool_calls == [] and len(seen) == 1


def test_a_call_outside_the_allowed_tools_is_refused_not_run():
    executed.clear()
    calls = [
        {"name": "calculate", "arguments": {"expression": "1+1"}},
        {"name": "write_file", "arguments": {"path": "a", "content": "b"}},
    ]
    generate, seen = scripted(reply(calls=calls), reply("done"))
    result = run(generate, allowed={"calculate"})
    assert executed == ["calculate"]
    refusal = "tool 'write_file' is not allowed in this request (allowed: calculate)"
    assert result.tool_call_errors == [refusal]
    assert result.tool_results == [345, {"error": refusal, "error_kind": "not_allowed"}]
    assert [m["name"] for m in seen[1][2:]] == ["calculate", "write_file"]  # in call order
    assert json.loads(seen[1][-1]["content"]) == {"note": DATA_NOTE, "error": refusal}


def test_a_round_whose_services_are_all_unreachable_is_answered_by_their_statement():
    # A small model answers an unreachable weather service with made-up weather; the answer is
    # the statement instead, and the model is not asked again.
    weather = {"name": "get_weather", "arguments": {"location": "北京"}}
    generate, seen = scripted(reply(calls=[weather, weather]), reply("北京最高气温26摄氏度"))
    result = run(generate, text="今天天气怎么样？北京")
    assert len(seen) == 1 and result.rounds == 1
    assert result.last.content == OFFLINE and result.last.tool_calls == []
    assert result.tool_results == [{"error": OFFLINE, "error_kind": "unavailable"}] * 2


def test_a_round_with_some_data_still_goes_back_to_the_model():
    calls = [{"name": "get_weather", "arguments": {}}, {"name": "calculate", "arguments": {}}]
    generate, seen = scripted(reply(calls=calls), reply("345; no weather"))
    assert run(generate).last.content == "345; no weather" and len(seen) == 2
