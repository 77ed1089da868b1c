"""Scoring of tool calls for the accuracy metric."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm.generation import GenerationResult
from train_app.call_matching import calls_problem
from train_app.evaluation import first_turn, row_category, score_reply
from train_app.train_loop import evaluate

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
                "days": {"type": "integer"},
            },
            "required": ["location"],
        },
    },
}
EXPECTED = [{"name": "get_weather", "arguments": {"location": "北京", "days": 3}}]

# (predicted calls, matches?, why) — the structural checks a held-out score rests on.
CASES = [
    ([{"name": "get_weather", "arguments": {"location": "北京", "days": 3}}], True, "same"),
    (
        [{"name": "get_weather", "arguments": {"days": 3.0, "location": " 北京。"}}],
        True,
        "normalised",
    ),
    ([{"name": "get_weather", "arguments": '{"location": "北京", "days": 3}'}], True, "JSON text"),
    (
        [{"name": "get_weather", "arguments": {"location": "北京", "days": 3, "unit": "celsius"}}],
        True,
        "an optional argument at its default",
    ),
    (
        [{"name": "get_weather", "arguments": {"location": "北京", "days": 3, "unit": "kelvin"}}],
        False,
        "a value outside the enum",
    ),
    (
        [
            {
                "name": "get_weather",
                "arguments": {"location": "北京", "days": 3, "unit": "fahrenheit"},
            }
        ],
        False,
        "an optional argument nobody asked for",
    ),
    (
        [{"name": "get_weather", "arguments": {"location": "北京", "days": "3"}}],
        False,
        "wrong type",
    ),
    ([{"name": "get_weather", "arguments": {"location": "上海", "days": 3}}], False, "wrong value"),
    ([{"name": "get_weather", "arguments": {"days": 3}}], False, "required argument missing"),
    ([{"name": "get_weather", "arguments": {"location": "北京"}}], False, "asked argument missing"),
    (
        [{"name": "get_weather", "arguments": {"location": "北京", "days": 3, "city": "x"}}],
        False,
        "an argument the schema lacks",
    ),
    ([{"name": "web_search", "arguments": {"location": "北京", "days": 3}}], False, "wrong tool"),
    ([], False, "no call"),
    (EXPECTED * 2, False, "one call too many"),
]


@pytest.mark.parametrize(("predicted", "matches", "why"), CASES, ids=[c[2] for c in CASES])
def test_calls_are_matched_by_structure(predicted, matches, why):
    assert (calls_problem(EXPECTED, predicted, [WEATHER]) is None) is matches, why


def test_parallel_calls_match_in_any_order_and_each_only_once():
    a = {"name": "get_weather", "arguments": {"location": "北京"}}
    b = {"name": "get_weather", "arguments": {"location": "上海"}}
    assert calls_problem([a, b], [b, a], [WEATHER]) is None
    assert calls_problem([a, b], [a, a], [WEATHER]) is not None
    assert calls_problem([], [], [WEATHER]) is None  # no call where none was due


def test_strict_needs_tool_call_tags_where_lenient_takes_recovered_json():
    expected = [{"name": "get_weather", "arguments": {"location": "北京"}}]
    tagged = GenerationResult(text="", content="", tool_calls=expected)
    fenced = GenerationResult(text="", content="", tool_calls=expected, recovered=["json_block"])
    broken = GenerationResult(text="", content="", tool_calls=expected, tool_call_errors=["bad"])
    assert score_reply(expected, tagged, [WEATHER])[:2] == (True, True)
    assert score_reply(expected, fenced, [WEATHER])[:2] == (False, True)
    assert score_reply(expected, broken, [WEATHER])[:2] == (False, False)


def test_rows_without_a_category_get_one_from_their_shape():
    def row(tools: int, calls: int) -> dict:
        call = {"type": "function", "function": {"name": "get_weather", "arguments": {}}}
        reply = {"role": "assistant", "content": "x", "tool_calls": [call] * calls}
        return {"messages": [{"role": "user", "content": "q"}, reply], "tools": [WEATHER] * tools}

    assert row_category(row(1, 1)) == "simple"
    assert row_category(row(3, 1)) == "multiple"
    assert row_category(row(2, 2)) == "parallel"
    assert row_category(row(2, 0)) == "irrelevance"
    assert row_category({**row(1, 1), "category": "registry"}) == "registry"


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


def test_evaluation_during_training_runs_the_adapter_being_trained(tiny_model_dir):
    """The 'after' score must measure the trained LoRA, not the base under it."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )
    call = {"type": "function", "function": {"name": "get_current_time", "arguments": {}}}
    rows = [  # a random model misses these calls, so every reply is listed among the misses
        {
            "messages": [
                {"role": "user", "content": ask},
                {"role": "assistant", "content": "", "tool_calls": [call]},
            ]
        }
        for ask in ("What time is it?", "现在几点了？")
    ]

    def replies() -> list[str]:
        return [miss["got"] for miss in evaluate(model, tokenizer, rows, "cpu")["misses"]]

    untrained = replies()  # LoRA B starts at zero: exactly the base
    assert len(untrained) == 2
    with model.disable_adapter():
        assert replies() == untrained
    torch.manual_seed(0)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.normal_(std=1.0)
    assert replies() != untrained


def test_accuracy_is_split_by_category_with_perplexity_of_answers(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)

    def row(ask: str, calls: int, category: str) -> dict:
        reply = {"role": "assistant", "content": "ok"}
        call = {"type": "function", "function": {"name": "get_weather", "arguments": {}}}
        if calls:
            reply = {"role": "assistant", "content": "", "tool_calls": [call] * calls}
        return {"messages": [{"role": "user", "content": ask}, reply], "category": category}

    rows = [row("几点了？", 1, "simple"), row("Weather?", 1, "simple"), row("hi", 0, "irrelevance")]
    scores = evaluate(model, tokenizer, rows, "cpu")
    by_category = scores["by_category"]
    assert {name: tally["total"] for name, tally in by_category.items()} == {
        "simple": 2,
        "irrelevance": 1,
    }
    assert sum(tally["strict"] for tally in by_category.values()) == scores["correct"]
    for tally in by_category.values():
        assert tally["accuracy"] == round(tally["strict"] / tally["total"], 4)
        assert tally["lenient"] >= tally["strict"]
    assert scores["answer_perplexity"] > 1.0
