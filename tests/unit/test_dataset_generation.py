"""Generated tool-calling rows: seeded, valid, bilingual, real tool results, held-out validation."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Literal

import pytest
import yaml

from configs.settings import ToolsConfig
from tests.json_stub import JsonStub
from tests.open_meteo_stub import open_meteo
from tools.builtin.calculator import calculate
from tools.registry import ToolRegistry
from tools.tool_spec import tool_from_function
from train_app import dataset_generation, made_up_values, open_questions
from train_app.dataset_generation import (
    CHITCHAT,
    FILE_CONTENTS,
    FOLDERS,
    PHRASINGS,
    SEARCH_QUERIES,
    TIMEZONES,
    WEATHER_PLACES,
    Holdout,
    generate_dataset,
    generate_examples,
    split_examples,
    write_jsonl,
)
from train_app.dataset_loading import load_rows
from train_app.dataset_validation import validate_rows

# Nothing listens on the discard port: the weather tool fails at once, as it does offline.
CLOSED_PORT = "http://127.0.0.1:9"
CJK = re.compile(r"[\u4e00-\u9fff]")


def offline_tools(workspace: Path, **changes) -> ToolsConfig:
    return ToolsConfig(
        workspace_dir=str(workspace),
        weather_geocoding_url=f"{CLOSED_PORT}/v1/search",
        weather_forecast_url=f"{CLOSED_PORT}/v1/forecast",
        http_timeout_s=1.0,
        allowed_hosts=["127.0.0.1"],
        **changes,
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> ToolRegistry:
    return ToolRegistry.from_config(offline_tools(tmp_path_factory.mktemp("workspace")))


@pytest.fixture(scope="module")
def dataset(registry):
    return generate_dataset(registry.specs(), registry, 400, 0.2, seed=3)


def user_text(row: dict) -> str:
    return next(m["content"] for m in row["messages"] if m["role"] == "user")


def first_call(row: dict) -> dict | None:
    for message in row["messages"]:
        if message.get("tool_calls"):
            return message["tool_calls"][0]["function"]
    return None


def tool_message(row: dict) -> dict:
    return next(m for m in row["messages"] if m["role"] == "tool")


def calls_of(rows: list[dict], name: str) -> list[tuple[dict, dict]]:
    return [(row, call) for row in rows if (call := first_call(row)) and call["name"] == name]


def without_clock_results(rows: list[dict]) -> list[dict]:
    """Rows minus what the clock really said, which changes from one run to the next."""
    stable = []
    for row in rows:
        call = first_call(row)
        if call and call["name"] == "get_current_time":
            row = {**row, "messages": row["messages"][:-2]}
        stable.append(row)
    return stable


def test_sizes_follow_validation_split(dataset):
    train, validation = dataset
    assert (len(train), len(validation)) == (320, 80)


def test_same_seed_gives_identical_rows(dataset, tmp_path):
    # A fresh workspace: the first run's files would change what list_files sees.
    registry = ToolRegistry.from_config(offline_tools(tmp_path))
    again = generate_dataset(registry.specs(), registry, 400, 0.2, seed=3)
    assert without_clock_results(again[0]) == without_clock_results(dataset[0])
    assert without_clock_results(again[1]) == without_clock_results(dataset[1])


def test_same_seed_without_registry_gives_identical_rows(registry):
    first = generate_examples(registry.specs(), None, 100, seed=5)
    assert first == generate_examples(registry.specs(), None, 100, seed=5)
    assert first != generate_examples(registry.specs(), None, 100, seed=6)


def test_rows_pass_the_validator(registry, dataset):
    train, validation = dataset
    assert validate_rows(train + validation, registry.specs()) == []


def test_every_tool_is_called(registry, dataset):
    for rows in dataset:
        called = {call["name"] for row in rows if (call := first_call(row))}
        assert called == {spec.name for spec in registry.specs()}


def test_chinese_and_english_are_both_common(dataset):
    train, _ = dataset
    chinese = sum(bool(CJK.search(user_text(row))) for row in train)
    assert 0.3 < chinese / len(train) < 0.7


def test_no_tool_share_is_respected(dataset):
    train, _ = dataset
    plain = [row for row in train if first_call(row) is None]
    assert len(plain) == round(len(train) * 0.15)
    for row in plain:
        assert [m["role"] for m in row["messages"] if m["role"] != "system"] == [
            "user",
            "assistant",
        ]


def test_offered_tools_include_the_called_one_in_lists_of_varying_size(dataset):
    train, _ = dataset
    sizes = set()
    for row in train:
        offered = [tool["function"]["name"] for tool in row["tools"]]
        sizes.add(len(offered))
        if call := first_call(row):
            assert call["name"] in offered
    assert {2, 7} <= sizes and len(sizes) >= 4


def test_calculate_results_are_the_calculators(dataset):
    train, _ = dataset
    rows = calls_of(train, "calculate")
    assert len(rows) > 20
    for row, call in rows:
        expression = call["arguments"]["expression"]
        assert expression in user_text(row)
        value = calculate(expression)
        assert tool_message(row)["content"] == json.dumps(value)
        shown = f"{value:.10g}" if isinstance(value, float) else str(value)
        assert shown in row["messages"][-1]["content"]


def test_arguments_are_copied_from_the_request(dataset):
    train, _ = dataset
    names: dict[str, set[str]] = {}
    for timezone, chinese, english in TIMEZONES:
        names.setdefault(timezone, {timezone}).update((chinese, english))
    for tool in ("get_weather", "web_search", "read_file", "write_file"):
        for row, call in calls_of(train, tool):
            assert all(value in user_text(row) for value in call["arguments"].values())
    for row, call in calls_of(train, "get_current_time"):
        timezone = call["arguments"]["timezone"]  # a made-up zone is named as itself
        assert any(name in user_text(row) for name in names.get(timezone, {timezone}))


def test_half_of_training_values_are_made_up_and_validation_keeps_the_pools(dataset):
    """Made-up values can only be copied; validation still asks about held-out pool values."""
    train, validation = dataset
    pools = {
        "get_weather": {p for pair in WEATHER_PLACES for p in pair},
        "get_current_time": {zone for zone, _, _ in TIMEZONES},
        "web_search": {q for language in SEARCH_QUERIES.values() for q in language},
        "list_files": {*FOLDERS, "."},
    }
    for tool, pool in pools.items():
        trained = [v for _, call in calls_of(train, tool) for v in call["arguments"].values()]
        made_up = [value for value in trained if value not in pool]
        assert 0.25 < len(made_up) / len(trained) < 0.75, tool
        held_out = {v for _, call in calls_of(validation, tool) for v in call["arguments"].values()}
        assert held_out and held_out <= pool, tool


def test_made_up_queries_and_notes_are_common_words_or_made_up_syllables(dataset):
    """Copying must beat the memory of ordinary words too, not only of unknown syllables."""
    train, _ = dataset
    common = set(made_up_values.common_words("en"))
    pool = {text for values in (SEARCH_QUERIES, FILE_CONTENTS) for text in values["en"]}
    made_up = [
        call["arguments"]["query" if tool == "web_search" else "content"]
        for tool in ("web_search", "write_file")
        for _, call in calls_of(train, tool)
    ]
    english = [text for text in made_up if text not in pool and not CJK.search(text)]
    of_common_words = [
        text for text in english if all(word in common or word.lower() in common
                                         for word in text.split())
    ]  # fmt: skip
    assert len(english) >= 10
    assert 0 < len(of_common_words) < len(english)  # both kinds, half and half by design


def test_made_up_chinese_sentences_tie_some_words_with_de():
    """Held-out queries hold 的 ("大熊猫的生活习性"): made-up ones must too, or a model learns
    that 的 ends a value and cuts the query there."""
    rng = random.Random(0)
    words = made_up_values.common_words("zh")
    texts = [made_up_values.sentence(rng, words, "zh") for _ in range(400)]
    tied = [text for text in texts if "的" in text]
    assert 0.35 < len(tied) / len(texts) < 0.8
    assert not any(text.startswith("的") or text.endswith("的") for text in texts)


def test_made_up_texts_avoid_the_words_that_ask_for_a_tool():
    """A query of "weather" words would teach that asking for the weather may mean a search."""
    cues = {"en": {"weather", "time", "file", "files", "folder", "search", "calculate", "read"},
            "zh": {"天气", "时间", "文件", "目录", "搜索", "计算", "读取", "写入"}}  # fmt: skip
    rng = random.Random(0)
    for language in ("en", "zh"):
        for _ in range(2000):
            text = dataset_generation._made_up_text(rng, language)
            if language == "en":
                assert not cues["en"] & set(text.lower().split()), text
            else:
                assert not any(cue in text for cue in cues["zh"]), text


def plain_questions(rows: list[dict]) -> list[str]:
    """The user turns that no tool fits: those whose answer makes no call."""
    questions = []
    for row in rows:
        messages = row["messages"]
        for turn, reply in zip(messages, messages[1:], strict=False):
            if (
                turn["role"] == "user"
                and reply["role"] == "assistant"
                and not reply.get("tool_calls")
            ):
                questions.append(turn["content"])
    return questions


def test_training_turns_no_tool_fits_ask_open_questions_and_validation_keeps_chitchat(registry):
    """Thirty-two fixed questions are learnt by heart; a model trained only on them calls a tool
    for any other. Validation must still ask only the held-out fixed ones, in the same rows."""
    fixed = {question for pairs in CHITCHAT.values() for question, _ in pairs}
    specs = registry.specs()
    train = generate_examples(specs, None, 300, seed=1, no_tool_share=0.5, open_question_share=0.6)
    asked = plain_questions(train)
    open_share = sum(question not in fixed for question in asked) / len(asked)
    assert 0.45 < open_share < 0.75
    assert len(set(asked) - fixed) > 0.9 * sum(question not in fixed for question in asked)

    only_fixed = generate_examples(
        specs, None, 300, seed=1, no_tool_share=0.5, open_question_share=0
    )
    assert set(plain_questions(only_fixed)) <= fixed
    validation = [
        generate_examples(specs, None, 100, 1, 0.5, "validation", open_question_share=share)
        for share in (0.0, 1.0)
    ]
    assert validation[0] == validation[1]
    assert set(plain_questions(validation[0])) <= fixed


def test_open_questions_avoid_tool_cues_and_the_chitchat_questions_words():
    """A held-out chit-chat question must stay unseen: no open question is about its topic.
    ("Write a poem" may stay: the fixed questions ask for one too, and no file is named.)"""
    cues = {"en": {"weather", "time", "file", "files", "folder", "search", "look", "google",
                   "web", "online", "calculate", "read"},
            "zh": {"天气", "时间", "几点", "文件", "目录", "搜", "查", "网上", "计算", "读",
                   "写入"}}  # fmt: skip
    rng = random.Random(0)
    for language in ("en", "zh"):
        topics = dataset_generation._open_topics(language)
        chitchat = " ".join(question for question, _ in CHITCHAT[language])
        if language == "en":
            chitchat_words = {word.lower() for word in re.findall(r"[A-Za-z']+", chitchat)}
            assert not chitchat_words & {topic.lower() for topic in topics}
        else:
            assert not any(topic in chitchat for topic in topics)
        for _ in range(2000):
            question, answer = open_questions.question(rng, topics, language)
            assert answer and question not in chitchat
            if language == "en":
                assert not cues["en"] & set(re.findall(r"[a-z]+", question.lower())), question
            else:
                assert not any(cue in question for cue in cues["zh"]), question


@pytest.mark.parametrize("tool", ["get_weather", "web_search"])
def test_unavailable_tools_give_error_results_not_invented_data(dataset, tool):
    train, _ = dataset
    rows = calls_of(train, tool)
    assert rows
    for row, _ in rows:
        error = json.loads(tool_message(row)["content"])["error"]
        answer = row["messages"][-1]["content"]
        assert error.rstrip(".") in answer
        assert "°C" not in answer and "http" not in answer.replace(error, "")


def test_reads_find_what_the_write_rows_wrote(tmp_path):
    # A workspace of its own, and only the two file tools, so that enough reads name a path
    # that a write row of this dataset wrote.
    registry = ToolRegistry.from_config(offline_tools(tmp_path))
    specs = [spec for spec in registry.specs() if spec.name in ("read_file", "write_file")]
    train, _ = generate_dataset(specs, registry, 200, 0.1, seed=3)
    written = {
        call["arguments"]["path"]: call["arguments"]["content"]
        for _, call in calls_of(train, "write_file")
    }
    found = 0
    for row, call in calls_of(train, "read_file"):
        result = json.loads(tool_message(row)["content"])
        if "error" in result:
            assert call["arguments"]["path"] not in written
        else:
            found += 1
            assert result["content"] == written[call["arguments"]["path"]]
            assert result["content"] in row["messages"][-1]["content"]
    assert found


def test_weather_answer_reports_the_real_result_in_the_users_language(tmp_path):
    with JsonStub(open_meteo) as stub:
        config = ToolsConfig(
            workspace_dir=str(tmp_path),
            weather_geocoding_url=f"{stub.url}/v1/search",
            weather_forecast_url=f"{stub.url}/v1/forecast",
            allowed_hosts=["127.0.0.1"],
        )
        registry = ToolRegistry.from_config(config)
        weather = [spec for spec in registry.specs() if spec.name == "get_weather"]
        rows = generate_examples(weather, registry, 200, seed=0, no_tool_share=0.0)
    results = [(row, json.loads(tool_message(row)["content"])) for row in rows]
    found = [row for row, result in results if "error" not in result]
    assert found
    for row in found:
        answer = row["messages"][-1]["content"]
        assert "20.0°C" in answer
        assert ("晴" if CJK.search(user_text(row)) else "clear sky") in answer


def test_rows_end_at_the_call_when_only_schemas_are_known(registry):
    rows = generate_examples(registry.specs(), None, 60, seed=0)
    assert validate_rows(rows, registry.specs()) == []
    for row in rows:
        if first_call(row):
            assert row["messages"][-1]["role"] == "assistant"
            assert row["messages"][-1]["tool_calls"]


def lookup_order(
    order_id: int, region: Literal["cn", "eu", "us"], express: bool = False
) -> dict[str, object]:
    """Look up an order's status by its id."""
    return {"order_id": order_id, "region": region, "status": "shipped", "express": express}


def test_other_tools_are_phrased_from_their_schema_and_really_run(tmp_path):
    registry = ToolRegistry([tool_from_function(lookup_order)], offline_tools(tmp_path))
    rows = generate_examples(registry.specs(), registry, 60, seed=2)
    assert validate_rows(rows, registry.specs()) == []
    called = calls_of(rows, "lookup_order")
    assert len(called) == 60 - round(60 * 0.15)
    assert any("express" in call["arguments"] for _, call in called)
    assert any("express" not in call["arguments"] for _, call in called)
    for row, call in called:
        arguments = call["arguments"]
        text = user_text(row)
        assert str(arguments["order_id"]) in text and arguments["region"] in text
        assert json.loads(tool_message(row)["content"]) == lookup_order(**arguments)


def test_mcp_schema_only_tool_generates_valid_calls():
    spec = {
        "name": "create_issue",
        "description": "Create an issue in a repository",
        "parameters": {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                "labels": {"type": "array", "items": {"type": "string"}},
                "due": {"type": "string", "format": "date"},
            },
            "required": ["title", "priority"],
        },
    }
    rows = generate_examples([spec], None, 40, seed=0)
    assert validate_rows(rows, [spec]) == []
    for row, call in calls_of(rows, "create_issue"):
        assert call["arguments"]["title"] in user_text(row)
        assert 1 <= call["arguments"]["priority"] <= 5


def test_holdout_parts_are_disjoint_and_cover_the_pool():
    items = list(range(12))
    train = Holdout(0, "train").pool("k", items)
    validation = Holdout(0, "validation").pool("k", items)
    assert not set(train) & set(validation)
    assert sorted([*train, *validation]) == items
    assert len(validation) == 3
    assert Holdout(1, "validation").pool("k", items) != validation  # the seed picks the part


def phrasing_of(row: dict) -> str:
    """The user text with the call's argument values blanked out."""
    text = user_text(row)
    for value in first_call(row)["arguments"].values():
        text = text.replace(str(value), "{}")
    return text


def phrasings(rows: list[dict], tool: str) -> set[str]:
    return {phrasing_of(row) for row, _ in calls_of(rows, tool)}


def argument_values(rows: list[dict], tool: str) -> set[str]:
    return {json.dumps(call["arguments"]) for _, call in calls_of(rows, tool)}


def assert_held_out(train: list[dict], validation: list[dict], phrasing_tools: tuple) -> None:
    """Validation has phrasings of ``phrasing_tools`` and weather and search argument values,
    and train has none of them."""
    for tool in phrasing_tools:
        held = phrasings(validation, tool)
        assert held and not held & phrasings(train, tool), tool
    for tool in ("get_weather", "web_search"):
        held = argument_values(validation, tool)
        assert held and not held & argument_values(train, tool), tool


def test_validation_uses_phrasings_and_values_never_seen_in_training(dataset):
    train, validation = dataset
    assert not {user_text(r) for r in train} & {user_text(r) for r in validation}
    assert_held_out(train, validation, ("calculate", "web_search", "write_file"))


def test_rows_of_another_seed_keep_the_holdout_of_holdout_seed(dataset, tmp_path):
    """A model continued on rows of seed 4 must not see seed 3's held-out side."""
    registry = ToolRegistry.from_config(offline_tools(tmp_path))
    _, validation = dataset
    more, _ = generate_dataset(registry.specs(), registry, 400, 0.2, seed=4, holdout_seed=3)
    assert {user_text(r) for r in more} != {user_text(r) for r in dataset[0]}
    assert_held_out(more, validation, ("calculate", "web_search"))
    # Without holdout_seed, seed 4 cuts elsewhere: some of seed 3's held-out phrasings reach train.
    other, _ = generate_dataset(registry.specs(), registry, 400, 0.2, seed=4)
    assert phrasings(validation, "calculate") & phrasings(other, "calculate")


def test_every_builtin_tool_has_eight_phrasings_per_language():
    for key in ("calculate", "time", "weather", "search", "list_files", "read_file", "write_file"):
        for language in ("zh", "en"):
            assert len(set(PHRASINGS[key][language])) >= 8, (key, language)
    assert all(len(CHITCHAT[language]) >= 8 for language in ("zh", "en"))


def test_split_examples_is_seeded_and_disjoint():
    rows = [{"messages": [{"role": "user", "content": str(i)}]} for i in range(50)]
    train, validation = split_examples(rows, 0.2, seed=4)
    assert (len(train), len(validation)) == (40, 10)
    assert sorted(map(str, train + validation)) == sorted(map(str, rows))
    assert split_examples(rows, 0.2, seed=4) == (train, validation)
    assert split_examples(rows, 0.2, seed=5) != (train, validation)


def test_write_jsonl_round_trips(tmp_path, dataset):
    train, _ = dataset
    write_jsonl(train, tmp_path / "out" / "train.jsonl")
    assert load_rows(tmp_path / "out" / "train.jsonl") == [
        {key: value for key, value in row.items() if key != "tools" or value} for row in train
    ]


def test_cli_writes_both_splits(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    tools = offline_tools(tmp_path / "unused").model_dump()
    config.write_text(yaml.safe_dump({"tools": tools}), encoding="utf-8")
    dataset_generation.main(
        ["--config", str(config), "--output", str(tmp_path / "data"), "--num-examples", "30"]
    )
    train = load_rows(tmp_path / "data" / "train.jsonl")
    validation = load_rows(tmp_path / "data" / "validation.jsonl")
    assert (len(train), len(validation)) == (27, 3)
    assert "train: 27 rows" in capsys.readouterr().out
    assert not (tmp_path / "unused").exists()  # the file tools wrote to a scratch workspace


def test_held_out_timezones_are_asked_for_by_their_iana_name(dataset):
    """A validation row must be answerable by copying: an unseen city's zone cannot be known."""
    _, validation = dataset
    time_calls = calls_of(validation, "get_current_time")
    assert time_calls
    for row, call in time_calls:
        assert call["arguments"]["timezone"] in user_text(row)


def test_conversations_hold_several_turns_each_answered_in_full(registry):
    rows = generate_examples(registry.specs(), registry, 40, seed=7, max_exchanges=3)
    assert len(rows) == 40
    assert validate_rows(rows, registry.specs()) == []
    turns = [sum(m["role"] == "user" for m in row["messages"]) for row in rows]
    assert set(turns) == {1, 2, 3}
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert "system" not in roles[1:]  # only the first turn may open with a system prompt
        ids = [c["id"] for m in row["messages"] for c in m.get("tool_calls") or []]
        assert len(ids) == len(set(ids))  # each turn's call has an id of its own
        assert ids == [m["tool_call_id"] for m in row["messages"] if m["role"] == "tool"]
        offered = {tool["function"]["name"] for tool in row["tools"]}
        called = {c["function"]["name"] for m in row["messages"] for c in m.get("tool_calls") or []}
        assert called <= offered
        # Every turn ends with an answer in words before the next user turn.
        user_at = [i for i, role in enumerate(roles) if role == "user"]
        for end in [*user_at[1:], len(roles)]:
            assert roles[end - 1] == "assistant" and row["messages"][end - 1]["content"]


def first_exchange(row: dict) -> tuple[str, list | None]:
    """The first user turn's text and the calls the reply to it makes."""
    user = next(i for i, m in enumerate(row["messages"]) if m["role"] == "user")
    return row["messages"][user]["content"], row["messages"][user + 1].get("tool_calls")


def test_filler_words_go_into_training_tool_requests_alone(registry):
    """A row of one turn drawn with fillers asks what the same row without them asks, with one
    common word from outside every phrasing added; direct answers and validation are unchanged."""
    specs = registry.specs()
    words = {*dataset_generation._sentence_words("zh"), *dataset_generation._sentence_words("en")}
    filled = 0
    for seed in range(60):
        plain, with_filler = (
            generate_examples(specs, None, 1, seed, no_tool_share=0.3, filler_share=share)[0]
            for share in (0.0, 1.0)
        )
        (before, calls), (after, filled_calls) = map(first_exchange, (plain, with_filler))
        assert filled_calls == calls
        if not calls:
            assert after == before  # no tool: no filler
            continue
        added = [
            after[i:j].strip()
            for i in range(len(after))
            for j in range(i + 1, len(after) + 1)
            if (after[:i] + after[j:]).strip() == before and after[i:j].strip() in words
        ]
        assert added or after == before, (before, after)
        filled += bool(added)
    assert filled > 30

    validation = [
        generate_examples(specs, None, 100, 1, 0.3, "validation", filler_share=share)
        for share in (0.0, 1.0)
    ]
    assert validation[0] == validation[1]
