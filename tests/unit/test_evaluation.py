"""Scoring of tool calls for the accuracy metric."""

from __future__ import annotations

from serve_app.generation import GenerationResult
from train_app.evaluation import call_matches, first_turn, normalize_arguments


def result(calls, errors=()):
    return GenerationResult(text="", content="", tool_calls=calls, tool_call_errors=list(errors))


def test_arguments_compare_after_json_normalisation():
    assert normalize_arguments({"b": 1, "a": "北京"}) == normalize_arguments(
        '{"a": "北京", "b": 1}'
    )


def test_call_matching_rules():
    expected = [{"name": "get_weather", "arguments": {"location": "北京"}}]
    assert call_matches(
        expected, result([{"name": "get_weather", "arguments": {"location": "北京"}}])
    )
    assert not call_matches(
        expected, result([{"name": "get_weather", "arguments": {"location": "上海"}}])
    )
    assert not call_matches(
        expected, result([{"name": "web_search", "arguments": {"location": "北京"}}])
    )
    assert not call_matches(expected, result([]))
    assert call_matches([], result([]))  # no call where none was due
    assert not call_matches([], result([{"name": "calculate", "arguments": {"expression": "1"}}]))
    assert not call_matches([], result([], errors=["block 1: broken JSON"]))


def test_first_turn_splits_prompt_and_expected_calls():
    row = {
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": {"x": 1}},
                    }
                ],
            },
            {"role": "tool", "content": "1"},
            {"role": "assistant", "content": "done"},
        ]
    }
    prompt, calls = first_turn(row)
    assert prompt == [{"role": "user", "content": "q"}]
    assert calls == [{"name": "f", "arguments": {"x": 1}}]
