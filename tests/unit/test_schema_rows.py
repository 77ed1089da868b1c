"""Rows made from any tool's schema: the categories of the benchmarks, masked names, seeded, and
verified; here for the real schemas of ``mcp-server-time`` (copied from the installed package,
``mcp_server_time.server.create_server("Europe/Berlin")``, as the registry names them)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from configs.settings import DataConfig
from train_app.dataset_validation import validate_rows
from train_app.schema_rows import maker
from train_app.schema_rows.masking import masked_row
from train_app.schema_rows.phrasing import together
from train_app.schema_rows.turns import CATEGORIES, ToolSet
from train_app.schema_rows.verify import leaves, row_problem, said
from train_app.tool_library import load_chat

LOCAL = "Use 'Europe/Berlin' as local timezone if no {what}timezone provided by the user."
TIME_TOOLS = (
    {
        "type": "function",
        "function": {
            "name": "time__get_current_time",
            "description": "Get current time in a specific timezone",
            "parameters": {
                "properties": {
                    "timezone": {
                        "description": "IANA timezone name (e.g., 'America/New_York', "
                        "'Europe/London'). " + LOCAL.format(what=""),
                        "title": "Timezone",
                        "type": "string",
                    }
                },
                "required": ["timezone"],
                "title": "get_current_timeArguments",
                "type": "object",
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "time__convert_time",
            "description": "Convert time between timezones",
            "parameters": {
                "properties": {
                    "source_timezone": {
                        "description": "Source IANA timezone name (e.g., 'America/New_York', "
                        "'Europe/London'). " + LOCAL.format(what="source "),
                        "title": "Source Timezone",
                        "type": "string",
                    },
                    "time": {
                        "description": "Time to convert in 24-hour format (HH:MM)",
                        "title": "Time",
                        "type": "string",
                    },
                    "target_timezone": {
                        "description": "Target IANA timezone name (e.g., 'Asia/Tokyo', "
                        "'America/San_Francisco'). " + LOCAL.format(what="target "),
                        "title": "Target Timezone",
                        "type": "string",
                    },
                },
                "required": ["source_timezone", "time", "target_timezone"],
                "title": "convert_timeArguments",
                "type": "object",
            },
        },
    },
)
TIME = ToolSet("time", TIME_TOOLS)
QUESTIONS = [q for q in load_chat() if not q.heldout]


def make(count: int, seed: int = 0, **data) -> tuple[list[dict], maker.Tally]:
    config = DataConfig(**data)
    return maker.training_rows([TIME], count, config, random.Random(seed), QUESTIONS)


@pytest.fixture(scope="module")
def time_rows():
    return make(240)


def calls_with_requests(row):
    asked = ""
    for message in row["messages"]:
        if message["role"] == "user":
            asked = message["content"]
        for call in message.get("tool_calls") or ():
            yield asked, call["function"]


def test_rows_for_mcp_server_time_call_its_tools_with_what_was_said(time_rows):
    rows, tally = time_rows
    assert len(rows) == 240 and not validate_rows(rows, [])
    seen = Counter()
    for row in rows:
        assert row_problem(row) is None
        for asked, call in calls_with_requests(row):
            seen[call["name"]] += 1
            for value in leaves(call["arguments"]):
                assert said(value, asked), (value, asked)
    assert seen["time__convert_time"] and seen["time__get_current_time"]
    converted = [
        call["arguments"]["time"]
        for row in rows
        for _, call in calls_with_requests(row)
        if call["name"] == "time__convert_time"
    ]
    assert all(len(t) == 5 and t[2] == ":" for t in converted)  # HH:MM as the schema says


def test_rows_cover_every_category_in_both_languages(time_rows):
    rows, tally = time_rows
    assert set(tally.turns) >= {*CATEGORIES, "tool_result"}
    users = [m["content"] for row in rows for m in row["messages"] if m["role"] == "user"]
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in users)
    assert any(text.isascii() for text in users)
    for row in rows:
        assert 1 <= len(row["tools"]) <= 4
        assert row["messages"][-1]["role"] == "assistant"


def test_turns_without_a_fitting_tool_are_answered_in_words(time_rows):
    rows, _ = time_rows
    for row in rows:
        if row["category"] in ("irrelevance", "chat"):
            first_reply = row["messages"][1]
            assert first_reply["content"] and not first_reply.get("tool_calls")
        if row["category"] == "irrelevance":  # the asked tool removed, its sibling kept
            assert len(row["tools"]) == 1


def test_parallel_turns_call_one_tool_two_or_three_times(time_rows):
    rows, _ = time_rows
    parallel = [row for row in rows if row["category"] == "parallel"]
    assert parallel
    for row in parallel:
        calls = row["messages"][1]["tool_calls"]
        assert 2 <= len(calls) <= 3 and len({c["function"]["name"] for c in calls}) == 1
        assert len({str(c["function"]["arguments"]) for c in calls}) == len(calls)


def test_generation_is_deterministic_under_a_seed():
    first, _ = make(30, seed=4)
    again, _ = make(30, seed=4)
    other, _ = make(30, seed=5)
    assert first == again and first != other


def test_a_share_of_rows_have_masked_names_kept_consistent():
    rows, tally = make(60, seed=1, masked_share=1.0)
    assert tally.masked == 60
    real = {t["function"]["name"] for t in TIME_TOOLS}
    for row in rows:
        offered = {t["function"]["name"]: t["function"] for t in row["tools"]}
        assert not set(offered) & real
        for _, call in calls_with_requests(row):
            assert set(call["arguments"]) <= set(offered[call["name"]]["parameters"]["properties"])
        assert row_problem(row) is None
    assert make(60, seed=1, masked_share=0.0)[1].masked == 0


def test_masking_leaves_a_tool_without_parameter_descriptions_named():
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "description": "Do it.",
            "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
        },
    }
    row = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "tools": [tool],
    }
    assert masked_row(random.Random(0), row) is None


def test_eval_rows_give_each_category_the_same_count_in_turn():
    rows, tally = maker.eval_rows(
        [TIME], 4, random.Random(0), [q for q in load_chat() if q.heldout]
    )
    assert Counter(row["category"] for row in rows) == {c: 4 for c in CATEGORIES}
    assert [row["category"] for row in rows[: len(CATEGORIES)]] == list(CATEGORIES)
    assert all(len([m for m in row["messages"] if m["role"] == "user"]) == 1 for row in rows)


def test_a_tool_no_value_can_be_drawn_for_is_counted_not_raised():
    stuck = {
        "type": "function",
        "function": {
            "name": "check_vin",
            "description": "Check a VIN.",
            "parameters": {
                "type": "object",
                "properties": {"vin": {"type": "string", "pattern": "^[A-HJ-NPR-Z0-9]{17}$"}},
                "required": ["vin"],
            },
        },
    }
    rows, tally = maker.training_rows(
        [ToolSet("cars", (stuck,)), TIME], 40, DataConfig(), random.Random(2), QUESTIONS
    )
    assert len(rows) == 40
    assert tally.rejected["no value: string pattern"] > 0
    assert all(c["name"] != "check_vin" for row in rows for _, c in calls_with_requests(row))


def test_three_requests_in_one_turn_never_open_with_two_things():
    rng = random.Random(0)
    for language, opener in (("en", "Two things"), ("zh", "两件事")):
        joined = [together(rng, ["A.", "B.", "C."], language) for _ in range(40)]
        assert not any(opener in text for text in joined)
        assert all(text.count("A.") == text.count("C.") == 1 for text in joined)
        pairs = {together(rng, ["A.", "B."], language) for _ in range(60)}
        assert any(opener in text for text in pairs)
