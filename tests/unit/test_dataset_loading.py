"""Loading user datasets: JSONL, JSON, Parquet and folders, ShareGPT conversion, clear errors."""

from __future__ import annotations

import json

import datasets
import pytest

from train_app.dataset_loading import DatasetError, load_rows

CALC_SCHEMA = {
    "type": "object",
    "properties": {"expression": {"type": "string"}},
    "required": ["expression"],
}
TIME_SCHEMA = {"type": "object", "properties": {"timezone": {"type": "string"}}}
CALC_TOOL = {"type": "function", "function": {"name": "calculate", "parameters": CALC_SCHEMA}}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_current_time", "parameters": TIME_SCHEMA},
}


def call_row(name: str, arguments: dict, tool: dict) -> dict:
    return {
        "messages": [
            {"role": "user", "content": "question"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "call_0", "type": "function",
                     "function": {"name": name, "arguments": arguments}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_0", "name": name, "content": "42"},
            {"role": "assistant", "content": "42"},
        ],
        "tools": [tool],
    }  # fmt: skip


ROWS = [
    call_row("calculate", {"expression": "6 * 7"}, CALC_TOOL),
    call_row("get_current_time", {"timezone": "Asia/Tokyo"}, TIME_TOOL),
    {"messages": [{"role": "user", "content": "42"}, {"role": "assistant", "content": "null"}]},
]


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def test_jsonl_rows_load_as_they_are(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", ROWS)
    assert load_rows(tmp_path / "data.jsonl") == ROWS


def test_json_array_keeps_strings_that_look_like_json(tmp_path):
    (tmp_path / "data.json").write_text(json.dumps(ROWS))
    rows = load_rows(tmp_path / "data.json")
    assert rows == ROWS
    assert rows[2]["messages"][0]["content"] == "42"  # not the number 42


def test_json_lines_under_a_json_name(tmp_path):
    write_jsonl(tmp_path / "data.json", ROWS)
    assert load_rows(tmp_path / "data.json") == ROWS


def test_parquet_rows_keep_their_own_argument_keys(tmp_path):
    datasets.Dataset.from_list(ROWS).to_parquet(str(tmp_path / "data.parquet"))
    rows = load_rows(tmp_path / "data.parquet")
    assert rows[0]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {
        "expression": "6 * 7"
    }
    assert rows[1]["tools"] == [TIME_TOOL]
    assert rows[2]["messages"] == ROWS[2]["messages"]


def test_folder_loads_its_train_file(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", ROWS[:2])
    write_jsonl(tmp_path / "validation.jsonl", ROWS[2:])
    assert load_rows(tmp_path) == ROWS[:2]


def test_string_arguments_and_bare_function_tools_become_canonical(tmp_path):
    row = call_row("calculate", {}, CALC_TOOL)
    function = row["messages"][1]["tool_calls"][0]
    del function["id"]
    function["function"]["arguments"] = json.dumps({"expression": "1 + 1"})
    row["tools"] = json.dumps([CALC_TOOL["function"]])
    write_jsonl(tmp_path / "data.jsonl", [row])
    (loaded,) = load_rows(tmp_path / "data.jsonl")
    call = loaded["messages"][1]["tool_calls"][0]
    assert call == {
        "id": "call_0",
        "type": "function",
        "function": {"name": "calculate", "arguments": {"expression": "1 + 1"}},
    }
    assert loaded["tools"] == [CALC_TOOL]


def test_sharegpt_rows_are_converted(tmp_path):
    row = {
        "conversations": [
            {"from": "human", "value": "6 乘以 7 是多少？"},
            {"from": "function_call",
             "value": json.dumps({"name": "calculate", "arguments": {"expression": "6 * 7"}})},
            {"from": "observation", "value": "42"},
            {"from": "gpt", "value": "6 × 7 = 42。"},
        ],
        "system": "你是助手。",
        "tools": json.dumps([CALC_TOOL["function"]]),
    }  # fmt: skip
    write_jsonl(tmp_path / "sharegpt.jsonl", [row])
    assert load_rows(tmp_path / "sharegpt.jsonl") == [
        {
            "messages": [
                {"role": "system", "content": "你是助手。"},
                {"role": "user", "content": "6 乘以 7 是多少？"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_0", "type": "function",
                     "function": {"name": "calculate", "arguments": {"expression": "6 * 7"}}},
                ]},
                {"role": "tool", "content": "42", "tool_call_id": "call_0", "name": "calculate"},
                {"role": "assistant", "content": "6 × 7 = 42。"},
            ],
            "tools": [CALC_TOOL],
        }
    ]  # fmt: skip


def test_sharegpt_parallel_calls_get_their_own_ids_and_results(tmp_path):
    calls = [
        {"name": "calculate", "arguments": json.dumps({"expression": "1 + 1"})},
        {"name": "get_current_time", "arguments": {"timezone": "UTC"}},
    ]
    row = {
        "messages": [
            {"from": "user", "value": "two things"},
            {"from": "function_call", "value": json.dumps(calls)},
            {"from": "observation", "value": "2"},
            {"from": "observation", "value": {"timezone": "UTC"}},
            {"from": "assistant", "value": "done"},
        ]
    }
    write_jsonl(tmp_path / "data.jsonl", [row])
    (loaded,) = load_rows(tmp_path / "data.jsonl")
    assistant, first, second = loaded["messages"][1:4]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_0", "call_1"]
    assert assistant["tool_calls"][0]["function"]["arguments"] == {"expression": "1 + 1"}
    assert (first["tool_call_id"], first["name"]) == ("call_0", "calculate")
    assert (second["tool_call_id"], second["content"]) == ("call_1", '{"timezone": "UTC"}')


def test_sharegpt_parquet_is_converted(tmp_path):
    row = {
        "conversations": [
            {"from": "human", "value": "hi"},
            {"from": "gpt", "value": "hello"},
        ],
        "tools": "[]",
    }
    datasets.Dataset.from_list([row]).to_parquet(str(tmp_path / "data.parquet"))
    assert load_rows(tmp_path / "data.parquet") == [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    ]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DatasetError, match="nope.jsonl does not exist"):
        load_rows(tmp_path / "nope.jsonl")


def test_unknown_extension_is_refused(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(DatasetError, match=r"data\.csv.*unsupported extension '\.csv'"):
        load_rows(tmp_path / "data.csv")


def test_folder_without_a_train_file_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="has none of train.jsonl"):
        load_rows(tmp_path)


def test_bad_json_lines_are_reported_with_their_line_numbers(tmp_path):
    path = tmp_path / "data.jsonl"
    lines = [json.dumps(ROWS[0]), "{not json", "", '{"messages": [}']
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as caught:
        load_rows(path)
    assert [error.row for error in caught.value.errors] == [2, 4]
    assert str(path) in str(caught.value) and "line 2: invalid JSON" in str(caught.value)


def test_broken_json_array_is_refused_with_its_line(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('[\n{"messages": []},\n{"messages": ]\n]')
    with pytest.raises(DatasetError, match=r"data\.json: 1 problem: line 3: invalid JSON"):
        load_rows(path)


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "data.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="holds no rows"):
        load_rows(tmp_path / "data.jsonl")


def test_unreadable_parquet_is_refused(tmp_path):
    (tmp_path / "data.parquet").write_text("not parquet")
    with pytest.raises(DatasetError, match=r"cannot read Parquet file .*data\.parquet"):
        load_rows(tmp_path / "data.parquet")


def test_function_call_that_is_not_json_is_reported(tmp_path):
    row = {"conversations": [
        {"from": "human", "value": "hi"}, {"from": "function_call", "value": "calculate(1)"}
    ]}  # fmt: skip
    write_jsonl(tmp_path / "data.jsonl", [ROWS[0], row])
    with pytest.raises(DatasetError, match=r"line 2: turn 2 \(function_call\) is not JSON"):
        load_rows(tmp_path / "data.jsonl")
