"""parse_tool_calls: Hermes/Qwen <tool_call> blocks out of model text; broken ones are reported; the
lenient formats recover the JSON calls a model writes instead of tags."""

from __future__ import annotations

import json

import pytest

from tools.tool_calls import TOOL_CALL_FORMATS, ToolCall, format_tool_call, parse_tool_calls


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


OFFERED = ("calculate", "get_weather", "get_current_time")
LENIENT = ("hermes", "json_block", "bare_json")
CALC = '{"name": "calculate", "arguments": {"expression": "15 * 23"}}'
WEATHER = '{"name": "get_weather", "arguments": {"location": "北京"}}'
CALC_CALL = ToolCall("calculate", {"expression": "15 * 23"})
WEATHER_CALL = ToolCall("get_weather", {"location": "北京"})

# text, formats, the calls found, the content left, the format that recovered each call
LENIENT_CASES = [
    pytest.param(
        f"```json\n{CALC}\n```", LENIENT, [CALC_CALL], "", ["json_block"], id="fenced_json_block"
    ),
    pytest.param(
        f"I will compute it.\n```\n{CALC}\n```",
        LENIENT,
        [CALC_CALL],
        "I will compute it.",
        ["json_block"],
        id="fence_without_language",
    ),
    pytest.param(
        f"```json\n[{CALC}, {WEATHER}]\n```",
        LENIENT,
        [CALC_CALL, WEATHER_CALL],
        "",
        ["json_block", "json_block"],
        id="parallel_calls_as_a_list_in_one_block",
    ),
    pytest.param(
        '```json\n{"name": "calculate", "parameters": {"expression": "15 * 23"}}\n```',
        LENIENT,
        [CALC_CALL],
        "",
        ["json_block"],
        id="parameters_is_a_synonym_of_arguments",
    ),
    pytest.param(
        WEATHER, LENIENT, [WEATHER_CALL], "", ["bare_json"], id="bare_object_is_the_reply"
    ),
    pytest.param(
        f"Let me check.\n{WEATHER}\nOne moment.",
        LENIENT,
        [WEATHER_CALL],
        "Let me check.\n\nOne moment.",
        ["bare_json"],
        id="bare_object_with_prose_around",
    ),
    pytest.param(
        f"[{CALC}, {WEATHER}]",
        LENIENT,
        [CALC_CALL, WEATHER_CALL],
        "",
        ["bare_json", "bare_json"],
        id="bare_list_of_calls",
    ),
    pytest.param(
        '{"name": "calculate", "arguments": "{\\"expression\\": \\"15 * 23\\"}"}',
        LENIENT,
        [CALC_CALL],
        "",
        ["bare_json"],
        id="arguments_given_as_a_json_string_are_decoded",
    ),
    pytest.param(
        '```json\n{"name": "send_email", "arguments": {"to": "a@b.c"}}\n```',
        LENIENT,
        [],
        '```json\n{"name": "send_email", "arguments": {"to": "a@b.c"}}\n```',
        [],
        id="tool_not_offered_stays_content",
    ),
    pytest.param(
        f'[{CALC}, {{"name": "send_email", "arguments": {{}}}}]',
        LENIENT,
        [],
        f'[{CALC}, {{"name": "send_email", "arguments": {{}}}}]',
        [],
        id="list_with_a_tool_not_offered_stays_content",
    ),
    pytest.param(
        f"Build the request like this:\n```python\npayload = {CALC}\n```",
        LENIENT,
        [],
        f"Build the request like this:\n```python\npayload = {CALC}\n```",
        [],
        id="json_in_a_code_answer_stays_content",
    ),
    pytest.param(
        '```json\n{"name": "calculate", "version": "1.0", "arguments": [1]}\n```',
        LENIENT,
        [],
        '```json\n{"name": "calculate", "version": "1.0", "arguments": [1]}\n```',
        [],
        id="offered_name_with_unreadable_arguments_stays_content",
    ),
    pytest.param(
        f"```python\nprint(1)\n```\n{CALC}\n```python\nprint(2)\n```",
        ("hermes", "json_block"),
        [],
        f"```python\nprint(1)\n```\n{CALC}\n```python\nprint(2)\n```",
        [],
        id="text_between_two_fences_is_not_a_fence",
    ),
    pytest.param(
        f"<tool_call>{WEATHER}</tool_call>\n```json\n{CALC}\n```",
        LENIENT,
        [WEATHER_CALL],
        f"```json\n{CALC}\n```",
        [],
        id="tags_win_over_lenient_formats",
    ),
    pytest.param(
        f"```json\n{CALC}\n```",
        ("hermes", "bare_json"),
        [],
        f"```json\n{CALC}\n```",
        [],
        id="bare_json_does_not_read_inside_fences",
    ),
    pytest.param(CALC, ("hermes", "json_block"), [], CALC, [], id="lenient_format_not_enabled"),
    pytest.param(CALC, ("hermes",), [], CALC, [], id="default_formats_read_only_tags"),
    pytest.param(
        f"```json\n{CALC}\n```\n{WEATHER}",
        ("hermes", "bare_json", "json_block"),
        [WEATHER_CALL],
        f"```json\n{CALC}\n```",
        ["bare_json"],
        id="first_lenient_format_with_a_call_wins",
    ),
]


@pytest.mark.parametrize(("text", "formats", "calls", "content", "recovered"), LENIENT_CASES)
def test_lenient_formats_recover_calls_to_offered_tools(text, formats, calls, content, recovered):
    parsed = parse_tool_calls(text, formats=formats, tool_names=OFFERED)
    assert parsed.tool_calls == calls
    assert parsed.content == content
    assert parsed.recovered == recovered
    assert parsed.errors == []


def test_a_broken_tag_block_stops_lenient_formats():
    text = f"<tool_call>{{oops}}</tool_call>\n```json\n{CALC}\n```"
    parsed = parse_tool_calls(text, formats=LENIENT, tool_names=OFFERED)
    assert parsed.tool_calls == [] and parsed.recovered == []
    assert len(parsed.errors) == 1 and parsed.errors[0].startswith("tool call 1: invalid JSON")


def test_deeply_nested_brackets_stay_content():
    text = "[" * 2000 + f"\n```json\n{'[' * 2000}\n```"
    parsed = parse_tool_calls(text, formats=LENIENT, tool_names=OFFERED)
    assert (parsed.content, parsed.tool_calls, parsed.errors) == (text, [], [])


@pytest.mark.parametrize("tool_names", [None, ()])
def test_lenient_formats_find_nothing_without_offered_tools(tool_names):
    parsed = parse_tool_calls(CALC, formats=LENIENT, tool_names=tool_names)
    assert (parsed.content, parsed.tool_calls, parsed.recovered) == (CALC, [], [])


def test_an_unknown_format_name_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="'llama3_json'") as error:
        parse_tool_calls(CALC, formats=("hermes", "llama3_json"), tool_names=OFFERED)
    assert all(name in str(error.value) for name in TOOL_CALL_FORMATS)
    assert TOOL_CALL_FORMATS == ("hermes", "json_block", "bare_json")


def test_a_tag_inside_a_string_value_does_not_end_the_block():
    text = '<tool_call>\n{"name": "note", "arguments": {"text": "a </tool_call> b"}}\n</tool_call>'
    parsed = parse_tool_calls(text)
    assert parsed.errors == []
    assert [call.to_dict() for call in parsed.tool_calls] == [
        {"name": "note", "arguments": {"text": "a </tool_call> b"}}
    ]


def test_a_raw_control_character_in_a_string_is_read():
    text = '<tool_call>\n{"name": "note", "arguments": {"text": "a\tb"}}\n</tool_call>'
    assert parse_tool_calls(text).tool_calls[0].arguments == {"text": "a\tb"}
