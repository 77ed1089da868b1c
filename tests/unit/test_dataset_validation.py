"""Row checks: every kind of bad row is reported with its line and what is wrong."""

from __future__ import annotations

import json

import pytest

from tools.tool_spec import ToolSpec
from train_app.dataset_validation import DatasetError, RowError, check_dataset, validate_rows

CALC = ToolSpec(
    name="calculate",
    description="Evaluate arithmetic.",
    parameters={
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
        "additionalProperties": False,
    },
)
SPECS = [CALC]


def row(*messages: dict, tools: list | None = None) -> dict:
    data: dict = {"messages": list(messages)}
    if tools is not None:
        data["tools"] = tools
    return data


def user(text: str = "What is 2 + 2?") -> dict:
    return {"role": "user", "content": text}


def call(name: str = "calculate", arguments: object = None, call_id: str = "call_0") -> dict:
    arguments = {"expression": "2 + 2"} if arguments is None else arguments
    function = {"name": name, "arguments": arguments}
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def result(content: str = "4", call_id: str | None = "call_0") -> dict:
    message = {"role": "tool", "name": "calculate", "content": content}
    if call_id is not None:
        message["tool_call_id"] = call_id
    return message


def answer(text: str = "2 + 2 = 4.") -> dict:
    return {"role": "assistant", "content": text}


GOOD = row(user(), call(), result(), answer(), tools=[CALC.openai_schema()])


def messages_of(errors: list[RowError]) -> str:
    return " | ".join(str(error) for error in errors)


def test_good_rows_pass():
    rows = [
        GOOD,
        row(user(), call(), result(), answer()),  # no tools: the registry's apply
        row({"role": "system", "content": "Be brief."}, user("hi"), answer("hello")),
        row(user(), call(arguments=json.dumps({"expression": "1"})), result(), answer()),
        row(user(), {**call(), "content": None}),  # ends at the call (schema-only tools)
    ]
    assert validate_rows(rows, SPECS) == []


def test_specs_may_be_openai_or_function_dicts():
    assert validate_rows([GOOD], [CALC.openai_schema()]) == []
    assert validate_rows([GOOD], [CALC.openai_schema()["function"]]) == []


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (["not", "an", "object"], "row is a list, not a JSON object"),
        ({"messages": []}, "no non-empty 'messages' list"),
        ({"conversations": []}, "no non-empty 'messages' list"),
        (row(user(), {"role": "wizard", "content": "poof"}, answer()), "unknown role 'wizard'"),
        (row({"role": "user", "content": ["parts"]}, answer()), "(user): content must be a string"),
        (row(user(), {"role": "assistant"}), "(assistant): content must be a string"),
        (
            row(user(), call("foo"), tools=[CALC.openai_schema()]),
            "tool 'foo' is not offered in this row's tools (calculate)",
        ),
        (row(user(), call("foo")), "tool 'foo' is not offered in registered tools (calculate)"),
        (
            row(user(), call(arguments={"expression": 5})),
            "tool 'calculate': argument 'expression': 5 is not of type 'string'",
        ),
        (
            row(user(), call(arguments={"expr": "1"})),
            "tool 'calculate': 'expression' is a required property",
        ),
        (row(user(), call(arguments=[1, 2])), "arguments must be a JSON object, not list"),
        (row(user(), call(arguments="{oops")), "arguments are not valid JSON"),
        (row(user(), result(), answer()), "message 2: tool result without a preceding"),
        (
            row(user(), answer(), result()),
            "message 3: tool result without a preceding assistant tool call",
        ),
        (row(user(), call(), result(call_id="call_9")), "'call_9' matches no call"),
        (row(user(), user()), "row has no assistant message"),
        (row(user(), answer(), tools="calculate"), "'tools' must be a list"),
        (row(user(), answer(), tools=[{"name": "x"}]), "tools[1] is not a"),
    ],
)
def test_bad_rows_are_reported(bad, expected):
    errors = validate_rows([GOOD, bad], SPECS)
    assert errors and all(error.row == 2 for error in errors)
    assert expected in messages_of(errors)


def test_line_numbers_are_the_files(tmp_path):
    path = tmp_path / "data.jsonl"
    lines = [
        GOOD,
        row(user(), {"role": "wizard", "content": "poof"}, answer()),
        GOOD,
        row(user(), call("foo"), tools=[CALC.openai_schema()]),
        row(user(), call(arguments={"expression": 5})),
        row(user(), result(), answer()),
        row(user()),
        row(user(), call(arguments=[1])),
    ]
    text = "\n".join(json.dumps(item) for item in lines)
    path.write_text(text.replace("\n", "\n\n", 1) + "\n")  # a blank line 2 shifts the rest
    with pytest.raises(DatasetError) as caught:
        check_dataset(path, SPECS)
    assert [error.row for error in caught.value.errors] == [3, 5, 6, 7, 8, 9]
    message = str(caught.value)
    assert message.startswith(f"{path}: 6 problems: line 3: message 2: unknown role 'wizard'")
    assert "line 5: message 2: tool 'foo' is not offered" in message
    assert "... and 1 more" in message


def test_bad_json_line_fails_the_check_with_its_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{oops\n")
    with pytest.raises(DatasetError, match="line 2: invalid JSON") as caught:
        check_dataset(path, SPECS)
    assert caught.value.errors == [RowError(2, caught.value.errors[0].message)]


def test_check_returns_the_rows_of_a_good_dataset(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    assert check_dataset(path, SPECS) == [GOOD]


def test_error_keeps_the_first_twenty_problems(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row(user())) + "\n" for _ in range(30)))
    with pytest.raises(DatasetError, match="30 problems") as caught:
        check_dataset(path, SPECS)
    assert len(caught.value.errors) == 20
    assert caught.value.errors[0] == RowError(1, "row has no assistant message")
