"""tool_choice as /v1/chat/completions and /chat share it: the forced prefix and the retries."""

from __future__ import annotations

import asyncio

import pytest

from llm.generation import GenerationRequest, GenerationResult
from serve_app.openai_compat import (
    MAX_CHOICE_TRIES,
    ChatCompletionRequest,
    OpenAIError,
    forced_prefix,
    generate_valid,
    tool_functions,
)

CLOCK = {
    "name": "time__get_current_time",
    "parameters": {
        "type": "object",
        "properties": {"timezone": {"type": "string"}},
        "required": ["timezone"],
    },
}
FUNCTIONS = {"time__get_current_time": CLOCK}
NAMED = {"type": "function", "function": {"name": "time__get_current_time"}}


def test_only_required_and_named_choices_force_a_prefix():
    assert forced_prefix("auto", FUNCTIONS) == forced_prefix("none", FUNCTIONS) == ""
    assert forced_prefix(None, FUNCTIONS) == ""
    assert forced_prefix("required", FUNCTIONS) == "<tool_call>\n"
    named = forced_prefix(NAMED, FUNCTIONS)
    assert named.endswith('{"name": "time__get_current_time", "arguments": {"timezone":')


def test_a_named_function_without_required_arguments_leaves_them_open():
    functions = {"now": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
    choice = {"type": "function", "function": {"name": "now"}}
    assert forced_prefix(choice, functions).endswith('"arguments":')


@pytest.mark.parametrize(
    ("choice", "functions", "message"),
    [
        ({"type": "function", "function": {"name": "nope"}}, FUNCTIONS, "unknown function 'nope'"),
        ("required", {}, "tool_choice needs tools"),
        (NAMED, {}, "tool_choice needs tools"),
    ],
)
def test_impossible_choices_are_400(choice, functions, message):
    with pytest.raises(OpenAIError, match=message) as refused:
        forced_prefix(choice, functions)
    assert refused.value.status == 400


def result(arguments: dict) -> GenerationResult:
    call = {"name": "time__get_current_time", "arguments": arguments}
    return GenerationResult(text="", content="", tool_calls=[call], finish_reason="tool_calls")


def test_a_schema_violating_call_is_retried_sampled_with_derived_seeds():
    replies = [result({}), result({"timezone": "Asia/Tokyo"})]
    seen: list[tuple[float, int | None]] = []

    async def generate(request: GenerationRequest) -> GenerationResult:
        seen.append((request.temperature, request.seed))
        return replies[len(seen) - 1]

    request = GenerationRequest(messages=[], prefill=forced_prefix(NAMED, FUNCTIONS), seed=5)
    valid = asyncio.run(generate_valid(generate, request, FUNCTIONS, NAMED))
    assert valid.tool_calls[0]["arguments"] == {"timezone": "Asia/Tokyo"}
    assert seen == [(0.0, 5), (0.7, 6)]


def test_no_valid_call_after_every_try_is_422():
    calls = 0

    async def generate(request: GenerationRequest) -> GenerationResult:
        nonlocal calls
        calls += 1
        return result({"timezone": 9})

    request = GenerationRequest(messages=[], prefill=forced_prefix("required", FUNCTIONS))
    with pytest.raises(OpenAIError, match="9 is not of type 'string'") as refused:
        asyncio.run(generate_valid(generate, request, FUNCTIONS, "required"))
    assert refused.value.status == 422 and calls == MAX_CHOICE_TRIES


@pytest.mark.parametrize(
    "parameters",
    [{"type": "no-such-type"}, {"type": "object", "required": "city"}, ["not", "a", "schema"]],
)
def test_a_tool_whose_parameters_are_no_json_schema_is_400(parameters):
    body = ChatCompletionRequest(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        tools=[{"type": "function", "function": {"name": "f", "parameters": parameters}}],
    )
    with pytest.raises(OpenAIError) as raised:
        tool_functions(body)
    assert raised.value.status == 400
    assert "tools[0].function.parameters is not a valid JSON schema" in str(raised.value)


def test_a_schema_is_judged_by_its_content_each_time_it_is_sent():
    """The schema check is cached by content: a schema sent again is judged as before, and the
    same tool name with another schema is judged on its own."""
    good = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    bad = {"type": "object", "properties": {"city": {"type": "string"}}, "required": "city"}

    def request(parameters):
        return ChatCompletionRequest(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": parameters}}],
        )

    for _ in range(2):
        assert tool_functions(request(good))["f"]["parameters"] == good
        with pytest.raises(OpenAIError) as raised:
            tool_functions(request(bad))
        assert raised.value.status == 400
