"""``python -m train_app.evaluate --rows``: another model scored on exactly a job's rows."""

from __future__ import annotations

import json

from train_app.evaluate import main

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def _row(city: str) -> dict:
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}
    return {
        "messages": [
            {"role": "user", "content": f"Weather in {city}?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
        ],
        "tools": [TOOL],
        "category": "simple",
    }


def test_the_first_rows_of_a_file_are_scored_with_the_grammar_only(tiny_model_dir, tmp_path):
    rows_file, output = tmp_path / "validation.jsonl", tmp_path / "result.json"
    rows = [_row(city) for city in ("Oslo", "Lima", "Pune")]
    rows_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    argv = ["--model", str(tiny_model_dir), "--rows", str(rows_file), "--output", str(output)]
    assert main([*argv, "--max-rows", "2", "--grammar-only"]) == 0
    result = json.loads(output.read_text())
    assert result["total"] == 2 and result["by_category"]["simple"]["total"] == 2
    assert "without_grammar" not in result
