"""parse_tool_calls: Hermes/Qwen <tool_call> blocks out of model text; broken ones are reported."""

from __future__ import annotations

import json

import pytest

from tools.tool_calls import ToolCall, format_tool_call, parse_tool_calls


def test_plain_text_has_no_calls():
    parsed = parse_tool_calls("  北京今天晴，气温 20°C。\n")
    assert (parsed.content, parsed.tool_calls, parsed.errors) == ("北京今天晴，气温 20°C。", [], [])


def test_one_call_is_taken_out_of_the_content():
    text = '<tool_call>\n{"name": "calculate", "arguments": {"expression": "2+3"}}\n</tool_call>'
    parsed = parse_tool_calls(text)
    assert parsed.tool_calls == [ToolCall("calculate", {"expression": "2+3"})]
    assert parsed.content == ""
    assert parsed.errors == []
    assert parsed.tool_calls[0].to_dict() == {
        "name": "calculate",
        "arguments": {"expression": "2+3"},
    }


def test_several_calls_with_text_and_any_whitespace():
    text = (
        "I will look both up.\n"
        '<tool_call>{"name":"get_weather","arguments":{"location":"北京"}}</tool_call>\n\n'
        '<tool_call>\n\n   {\n  "name": "get_current_time",\n  "arguments": {"timezone": '
        '"Asia/Shanghai"}\n}  \n\t</tool_call>'
    )
    parsed = parse_tool_calls(text)
    assert parsed.content == "I will look both up."
    assert [call.name for call in parsed.tool_calls] == ["get_weather", "get_current_time"]
    assert parsed.tool_calls[1].arguments == {"timezone": "Asia/Shanghai"}
    assert parsed.errors == []


def test_arguments_given_as_a_json_string_are_decoded():
    arguments = json.dumps({"expression": "6*7"})
    text = f"<tool_call>{json.dumps({'name': 'calculate', 'arguments': arguments})}</tool_call>"
    assert parse_tool_calls(text).tool_calls == [ToolCall("calculate", {"expression": "6*7"})]


def test_missing_arguments_mean_none():
    parsed = parse_tool_calls('<tool_call>{"name": "get_current_time"}</tool_call>')
    assert parsed.tool_calls == [ToolCall("get_current_time", {})]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"name": "calculate", "arguments": {"expression": "2+3"}', "invalid JSON"),
        ("{name: calculate}", "invalid JSON"),
        ("", "invalid JSON"),
        ('["calculate"]', "expected a JSON object, got array"),
        ('{"arguments": {}}', 'missing "name"'),
        ('{"name": "", "arguments": {}}', 'missing "name"'),
        ('{"name": 3, "arguments": {}}', 'missing "name"'),
        ('{"name": "calculate", "arguments": [1, 2]}', '"arguments" must be a JSON object'),
        ('{"name": "calculate", "arguments": "2+3"}', '"arguments" is a string but not JSON'),
        ('{"name": "calculate", "arguments": "[1]"}', '"arguments" must be a JSON object'),
    ],
)
def test_a_broken_block_is_reported_not_shown(body, reason):
    parsed = parse_tool_calls(f"Checking.\n<tool_call>\n{body}\n</tool_call>\nDone.")
    assert parsed.tool_calls == []
    assert len(parsed.errors) == 1
    assert parsed.errors[0].startswith("tool call 1: ") and reason in parsed.errors[0]
    assert parsed.content == "Checking.\n\nDone."


def test_errors_say_which_block_failed_and_good_blocks_still_count():
    text = (
        '<tool_call>{"name": "calculate", "arguments": {"expression": "1"}}</tool_call>'
        "<tool_call>{oops}</tool_call>"
        '<tool_call>{"name": "calculate", "arguments": {"expression": "3"}}</tool_call>'
    )
    parsed = parse_tool_calls(text)
    assert [call.arguments["expression"] for call in parsed.tool_calls] == ["1", "3"]
    assert len(parsed.errors) == 1 and parsed.errors[0].startswith("tool call 2: invalid JSON")


def test_an_unclosed_block_from_a_cut_off_generation_is_an_error():
    parsed = parse_tool_calls('Let me check.\n<tool_call>\n{"name": "get_weather", "argum')
    assert parsed.tool_calls == []
    assert parsed.content == "Let me check."
    assert parsed.errors == ["tool call 1: <tool_call> is not closed (the output ends; cut off?)"]


def test_a_block_reopened_before_closing_is_an_error_and_the_next_one_counts():
    text = '<tool_call>{"name": "a"\n<tool_call>{"name": "b", "arguments": {}}</tool_call>'
    parsed = parse_tool_calls(text)
    assert parsed.tool_calls == [ToolCall("b", {})]
    assert parsed.errors == ["tool call 1: <tool_call> is not closed (another one starts)"]


def test_a_stray_closing_tag_is_reported():
    parsed = parse_tool_calls("answer</tool_call>")
    assert parsed.content == "answer"
    assert parsed.errors == ["a </tool_call> has no <tool_call> before it"]


def test_formatted_call_is_the_canonical_block_and_parses_back():
    call = ToolCall("get_weather", {"location": "北京"})
    block = format_tool_call(call)
    body = '{"name": "get_weather", "arguments": {"location": "北京"}}'
    assert block == f"<tool_call>\n{body}\n</tool_call>"
    assert parse_tool_calls(block).tool_calls == [call]
