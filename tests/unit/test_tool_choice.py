"""tool_choice as /v1/chat/completions and /chat share it: the grammar it picks, and the schema
check after decoding (the guard)."""

from __future__ import annotations

import pytest

from llm.generation import GenerationRequest, GenerationResult
from serve_app.openai_compat import (
    ChatCompletionRequest,
    OpenAIError,
    checked_reply,
    tool_functions,
    tool_grammar,
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


def grammar_of(choice, functions=FUNCTIONS, enabled=True, strict=True):
    return tool_grammar(choice, functions, True, enabled, strict)


def test_each_choice_picks_its_grammar():
    assert grammar_of("auto").choice == grammar_of(None).choice == "auto"
    assert grammar_of("none") is None
    assert grammar_of("required").choice == "required"
    assert grammar_of(NAMED).choice == "time__get_current_time"
    assert grammar_of("auto").functions == (CLOCK,)


def test_turning_the_grammar_off_frees_auto_only():
    assert grammar_of("auto", enabled=False) is None
    assert grammar_of("required", enabled=False).choice == "required"
    assert grammar_of(NAMED, enabled=False).strict  # forced choices always fail loudly
    strict_function = {"now": {"name": "now", "strict": True, "parameters": {"type": "object"}}}
    assert grammar_of("auto", strict_function, enabled=False, strict=False).strict
    assert not grammar_of("auto", strict=False).strict


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
        grammar_of(choice, functions)
    assert refused.value.status == 400


def result(arguments: dict) -> GenerationResult:
    call = {"name": "time__get_current_time", "arguments": arguments}
    return GenerationResult(text="", content="", tool_calls=[call], finish_reason="tool_calls")


def test_the_guard_names_calls_the_schema_refuses():
    request = GenerationRequest(messages=[], tool_grammar=grammar_of("auto"))
    checked = checked_reply(result({"timezone": 9}), request, FUNCTIONS, "auto")
    assert checked.guard == ["time__get_current_time: 9 is not of type 'string'"]
    assert checked_reply(result({"timezone": "UTC"}), request, FUNCTIONS, "auto").guard == []


def test_a_forced_choice_without_a_valid_call_is_422():
    request = GenerationRequest(messages=[], tool_grammar=grammar_of("required"))
    with pytest.raises(OpenAIError, match="9 is not of type 'string'") as refused:
        checked_reply(result({"timezone": 9}), request, FUNCTIONS, "required")
    assert refused.value.status == 422
    no_call = GenerationResult(text="cut", content="cut", finish_reason="length")
    with pytest.raises(OpenAIError, match="requires a tool call"):
        checked_reply(no_call, request, FUNCTIONS, NAMED)


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
    assert "tools[0].function.parameters (of 'f') is not a valid JSON schema" in str(raised.value)


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
