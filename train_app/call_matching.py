"""Does a predicted set of tool calls match the expected one? Checked by structure, as the
Berkeley Function Calling Leaderboard's AST checker does, not by comparing text.

A predicted call matches an expected one when it names the same function, has every required
argument, no argument the schema lacks, values valid under the parameter's schema (types and
enums), and values equal to the expected ones after normalisation (case, spacing and trailing
punctuation of strings; 3 == 3.0). An optional argument the request did not ask for counts only
if it equals the schema's default. Parallel calls match in any order. Pure logic, no model.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from jsonschema import Draft202012Validator

from tools.tool_calls import decode_arguments

_SPACES = re.compile(r"\s+")
_TRAILING = ".,;:!?。，；：！？ "


def normalized(value: Any) -> Any:
    """A value in the form two equal answers share."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).casefold()
        return _SPACES.sub(" ", text).strip(_TRAILING)
    if isinstance(value, list):
        return [normalized(item) for item in value]
    if isinstance(value, dict):
        return {str(key): normalized(item) for key, item in value.items()}
    return value


def _schemas(tools: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {
        tool["function"]["name"]: tool["function"].get("parameters") or {}
        for tool in tools or ()
        if "function" in tool
    }


def call_problem(
    expected: dict[str, Any], predicted: dict[str, Any], parameters: dict[str, Any] | None
) -> str | None:
    """Why ``predicted`` does not match ``expected`` (None when it does)."""
    if predicted.get("name") != expected["name"]:
        return f"called {predicted.get('name')!r} instead of {expected['name']!r}"
    want = decode_arguments(expected.get("arguments") or {})
    got = decode_arguments(predicted.get("arguments") or {})
    if not isinstance(got, dict):
        return "arguments are not a JSON object"
    properties = (parameters or {}).get("properties", {})
    for key in (parameters or {}).get("required", []):
        if key not in got:
            return f"required argument {key!r} is missing"
    for key, value in got.items():
        schema = properties.get(key)
        if properties and schema is None:
            return f"argument {key!r} is not in the schema"
        if schema is not None:
            error = next(Draft202012Validator(schema).iter_errors(value), None)
            if error is not None:
                return f"argument {key!r}: {error.message}"
        if key not in want:
            if (
                schema is None
                or "default" not in schema
                or normalized(value) != normalized(schema["default"])
            ):
                return f"argument {key!r} was not asked for"
        elif normalized(value) != normalized(want[key]):
            return f"argument {key!r} is {json.dumps(value, ensure_ascii=False)}, expected " + (
                json.dumps(want[key], ensure_ascii=False)
            )
    missing = [key for key in want if key not in got]
    if missing:
        return f"argument(s) {missing} missing"
    return None


def calls_problem(
    expected: list[dict[str, Any]],
    predicted: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
) -> str | None:
    """Why the predicted calls do not match the expected ones, in any order (None: they do)."""
    if len(predicted) != len(expected):
        return f"{len(predicted)} call(s) where {len(expected)} were due"
    schemas = _schemas(tools)
    unmatched = list(predicted)
    for want in expected:
        problems = [call_problem(want, got, schemas.get(want["name"])) for got in unmatched]
        if None not in problems:
            return problems[0] if problems else "no call left to match"
        unmatched.pop(problems.index(None))
    return None
