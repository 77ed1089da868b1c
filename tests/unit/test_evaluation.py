"""Scoring of tool calls for the accuracy metric."""

from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm.generation import GenerationResult
from train_app.evaluation import call_matches, first_turn, normalize_arguments
from train_app.train_loop import evaluate


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


def test_accuracy_is_split_by_the_tool_each_row_should_call(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)

    def row(ask: str, name: str | None) -> dict:
        reply = {"role": "assistant", "content": "ok"}
        if name:
            call = {"type": "function", "function": {"name": name, "arguments": {}}}
            reply = {"role": "assistant", "content": "", "tool_calls": [call]}
        return {"messages": [{"role": "user", "content": ask}, reply]}

    rows = [row("几点了？", "get_current_time"), row("What time is it?", "get_current_time")]
    rows += [row("hi", None), row("Now?", "get_weather")]
    scores = evaluate(model, tokenizer, rows, "cpu")
    by_tool = scores["by_tool"]
    assert {name: tally["total"] for name, tally in by_tool.items()} == {
        "get_current_time": 2,
        "get_weather": 1,
        "none": 1,
    }
    assert sum(tally["correct"] for tally in by_tool.values()) == scores["correct"]
    assert all(t["accuracy"] == round(t["correct"] / t["total"], 4) for t in by_tool.values())
