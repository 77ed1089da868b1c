"""Generated training and evaluation rows: what a tuned model learns from and is judged on."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from jsonschema import Draft202012Validator

from configs.settings import DataConfig, ToolsConfig
from tools.registry import ToolRegistry
from train_app.dataset_mix import generate_dataset
from train_app.schema_rows.verify import leaves
from train_app.schema_rows.verify import said as is_said
from train_app.tool_library import load_library
from train_app.tool_requests import RequestMaker, generic_request
from train_app.tool_rows import EVAL_CATEGORIES, generate_eval_rows, generate_training_rows

MCP_LIKE_TOOL = {
    "type": "function",
    "function": {
        "name": "time__convert_time",
        "description": "Convert time between timezones.",
        "parameters": {
            "type": "object",
            "properties": {
                "source_timezone": {"type": "string", "description": "Source IANA timezone name"},
                "time": {"type": "string", "description": "Time to convert in 24-hour format"},
                "target_timezone": {"type": "string", "description": "Target IANA timezone name"},
                "precise": {"type": "boolean"},
            },
            "required": ["source_timezone", "time", "target_timezone"],
        },
    },
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    config = ToolsConfig(workspace_dir=str(tmp_path_factory.mktemp("workspace")))
    with ToolRegistry.from_config(config) as registry:
        yield registry


@pytest.fixture(scope="module")
def training_rows(registry):
    return generate_training_rows(
        registry.specs(), registry, DataConfig(num_generated_examples=300, seed=3)
    )


@pytest.fixture(scope="module")
def eval_rows(registry):
    return generate_eval_rows(registry.specs(), 12, seed=3)


def calls(row):
    return [
        call["function"]
        for message in row["messages"]
        if message["role"] == "assistant"
        for call in message.get("tool_calls") or ()
    ]


def test_library_has_varied_synthetic_tools_across_domains():
    synthetic = [tool for tool in load_library().values() if tool.parameters is not None]
    assert len(synthetic) >= 60
    domains = Counter(tool.domain for tool in synthetic)
    assert {"money", "calendar", "shopping", "travel", "devices", "code", "office"} <= set(domains)
    kinds = Counter()
    for tool in synthetic:
        for schema in tool.parameters["properties"].values():
            kinds["enum" if "enum" in schema else schema.get("type")] += 1
        assert tool.parameters.get("required"), f"{tool.name} has no required argument"
    assert {"string", "number", "integer", "boolean", "enum", "array", "object"} <= set(kinds)
    assert sum(tool.heldout for tool in synthetic) >= 16


def test_training_rows_never_offer_or_call_a_heldout_tool(training_rows):
    heldout = {name for name, tool in load_library().items() if tool.heldout}
    for row in training_rows:
        offered = {tool["function"]["name"] for tool in row["tools"]}
        assert not offered & heldout
        assert {call["name"] for call in calls(row)} <= offered


def test_every_generated_call_is_valid_under_its_tool_schema(training_rows, eval_rows):
    for row in training_rows + eval_rows:
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in row["tools"]}
        for call in calls(row):
            errors = list(
                Draft202012Validator(schemas[call["name"]]).iter_errors(call["arguments"])
            )
            assert not errors, (call, errors[0].message)


def test_training_rows_mix_every_kind_of_turn_in_both_languages(training_rows):
    categories = Counter(row["category"] for row in training_rows)
    assert {"simple", "multiple", "parallel", "irrelevance", "chat"} <= set(categories)
    users = [m["content"] for row in training_rows for m in row["messages"] if m["role"] == "user"]
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in users)
    assert any(text.isascii() for text in users)
    # Several exchanges share one tool list, and results are answered in words.
    assert max(sum(m["role"] == "user" for m in row["messages"]) for row in training_rows) == 3
    last = [row["messages"][-1] for row in training_rows]
    assert all(m["role"] == "assistant" and m["content"] for m in last)


def test_a_call_gets_its_result_back_and_an_answer_that_uses_it(training_rows):
    seen = 0
    for row in training_rows:
        messages = row["messages"]
        for index, message in enumerate(messages):
            if message["role"] != "assistant" or not message.get("tool_calls"):
                continue
            results = messages[index + 1 : index + 1 + len(message["tool_calls"])]
            assert [m["role"] for m in results] == ["tool"] * len(message["tool_calls"])
            assert [m["tool_call_id"] for m in results] == [c["id"] for c in message["tool_calls"]]
            answer = messages[index + 1 + len(results)]
            assert answer["role"] == "assistant" and answer["content"]
            if message["tool_calls"][0]["function"]["name"] == "calculate":
                result = json.loads(results[0]["content"])
                value = result.get("result") if isinstance(result, dict) else result
                assert str(value) in answer["content"], (result, answer)
                seen += 1
    assert seen, "no calculate call among 300 rows"


def test_parallel_turns_ask_for_two_or_three_calls(training_rows):
    for row in training_rows:
        if row["category"] == "parallel":
            assert 2 <= len(row["messages"][1]["tool_calls"]) <= 3


def test_turns_no_tool_fits_are_answered_without_a_call(training_rows):
    for row in training_rows:
        if row["category"] in ("irrelevance", "chat"):
            assert row["messages"][1]["role"] == "assistant"
            assert not row["messages"][1].get("tool_calls")


def test_eval_rows_cover_every_category_and_offer_only_heldout_library_tools(registry, eval_rows):
    assert Counter(row["category"] for row in eval_rows) == {c: 12 for c in EVAL_CATEGORIES}
    heldout = {name for name, tool in load_library().items() if tool.heldout}
    registry_tools = {spec.name for spec in registry.specs()}
    for row in eval_rows:
        offered = {tool["function"]["name"] for tool in row["tools"]}
        if row["category"] == "registry":
            assert offered == registry_tools
        else:
            assert offered <= heldout
        expected = row["messages"][1].get("tool_calls") or []
        if row["category"] == "irrelevance":
            assert not expected
        elif row["category"] == "parallel":
            assert len(expected) >= 2


def test_registry_rows_in_eval_use_phrasings_training_never_uses(
    registry, training_rows, eval_rows
):
    library = load_library()
    trained = {
        m["content"] for row in training_rows for m in row["messages"] if m["role"] == "user"
    }
    for row in eval_rows:
        if row["category"] == "registry":
            assert row["messages"][0]["content"] not in trained
    assert all(library[name].heldout_requests["en"] for name in ("calculate", "get_weather"))


def test_generation_is_seeded(registry):
    specs = registry.specs()
    first = generate_training_rows(specs, None, DataConfig(num_generated_examples=20, seed=5))
    again = generate_training_rows(specs, None, DataConfig(num_generated_examples=20, seed=5))
    other = generate_training_rows(specs, None, DataConfig(num_generated_examples=20, seed=6))
    assert again == first
    assert other != first


def test_the_eval_rows_follow_eval_seed_not_the_training_seed(registry):
    """Jobs on different training rows are scored on the same held-out rows."""
    specs = registry.specs()
    first = DataConfig(num_generated_examples=4, eval_rows_per_category=2, seed=5, corpus_share=0.0)
    other_training = first.model_copy(update={"seed": 6})
    other_eval = first.model_copy(update={"eval_seed": 1})
    made = generate_dataset(specs, None, first)
    again = generate_dataset(specs, None, other_training)
    assert again.train != made.train and again.validation == made.validation
    assert generate_dataset(specs, None, other_eval).validation != made.validation


def test_tools_the_library_does_not_know_get_requests_from_their_schema():
    rows = generate_training_rows([MCP_LIKE_TOOL], None, DataConfig(num_generated_examples=60))
    schema = MCP_LIKE_TOOL["function"]["parameters"]
    made = [c for row in rows for c in calls(row) if c["name"] == "time__convert_time"]
    assert made, "the MCP tool is never called"
    for call in made:
        assert set(schema["required"]) <= set(call["arguments"])
        assert not list(Draft202012Validator(schema).iter_errors(call["arguments"]))
    rng = random.Random(0)
    request = generic_request(rng, MCP_LIKE_TOOL["function"], "en", heldout=False)
    for value in leaves(request.arguments):
        assert is_said(value, request.text)  # what the call carries is what the request says


def test_library_requests_say_every_copied_value():
    rng = random.Random(1)
    for tool in load_library().values():
        if tool.parameters is None:
            continue
        maker = RequestMaker(tool.openai_schema(), tool)
        for language in ("en", "zh"):
            request = maker.make(rng, language, heldout=False)
            for slot, said in request.said.items():
                assert said in request.text, (tool.name, slot)
