"""Check chat rows before training, so a bad dataset is refused with the line to fix, not mid-job.

Each problem is a RowError: the row's line, and which message, tool or argument is wrong and why.
Nothing is fixed silently. ``DatasetError`` and ``RowError`` live in ``dataset_loading``, which
raises them too, and are re-exported here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import exceptions as schema_exceptions
from jsonschema import validators

from train_app.dataset_loading import DatasetError, RowError, openai_tool, read_numbered_rows

if TYPE_CHECKING:
    from tools.registry import ToolSpec

__all__ = ["DatasetError", "RowError", "check_dataset", "tool_schemas", "validate_rows"]

logger = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant", "tool")


def check_dataset(
    path: str | Path, specs: Sequence[ToolSpec | dict[str, Any]]
) -> list[dict[str, Any]]:
    """Load and validate a dataset; its rows, or DatasetError listing the first problems."""
    numbered, errors = read_numbered_rows(path)
    rows = [row for _, row in numbered]
    errors += validate_rows(rows, specs, [number for number, _ in numbered])
    errors.sort(key=lambda error: error.row)
    if errors:
        raise DatasetError.from_row_errors(path, errors)
    logger.info("dataset %s: %d rows valid", path, len(rows))
    return rows


def validate_rows(
    rows: Sequence[Any],
    registry_specs: Sequence[ToolSpec | dict[str, Any]],
    line_numbers: Sequence[int] | None = None,
) -> list[RowError]:
    """Every problem of every row; rows are numbered from 1 unless ``line_numbers`` are given.

    ``registry_specs`` (ToolSpecs or tool dicts) are the tools a row without ``tools`` may call.
    """
    registry = tool_schemas(registry_specs)
    checker = _RowChecker()
    errors: list[RowError] = []
    for index, row in enumerate(rows):
        number = line_numbers[index] if line_numbers is not None else index + 1
        errors.extend(RowError(number, message) for message in checker.check(row, registry))
    return errors


def tool_schemas(specs: Sequence[ToolSpec | dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tool name → parameters schema, from ToolSpecs, OpenAI tool schemas or function dicts."""
    schemas = {}
    for spec in specs:
        function = openai_tool(spec)["function"]
        schemas[function["name"]] = function.get("parameters") or {"type": "object"}
    return schemas


class _RowChecker:
    """Row checks, with one compiled JSON-schema validator per distinct schema."""

    def __init__(self) -> None:
        self._validators: dict[str, Any] = {}

    def check(self, row: Any, registry: dict[str, dict[str, Any]]) -> list[str]:
        if not isinstance(row, dict):
            return [f"row is a {type(row).__name__}, not a JSON object"]
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            return ["row has no non-empty 'messages' list"]
        problems: list[str] = []
        offered, where = registry, "registered tools"
        if row.get("tools"):
            offered, where = self._row_tools(row["tools"], problems), "this row's tools"
        call_ids: set[str] | None = None  # ids of the latest assistant tool calls, if they lead
        for number, message in enumerate(messages, start=1):
            prefix = f"message {number}"
            if not isinstance(message, dict):
                problems.append(f"{prefix} is not an object")
                continue
            role = message.get("role")
            if role not in ROLES:
                problems.append(f"{prefix}: unknown role {role!r} (use one of {', '.join(ROLES)})")
                continue
            calls = message.get("tool_calls") if role == "assistant" else None
            content = message.get("content")
            if not isinstance(content, str) and not (calls and content is None):
                problems.append(f"{prefix} ({role}): content must be a string")
            if role == "tool":
                problems.extend(f"{prefix}: {p}" for p in self._tool_result(message, call_ids))
                continue
            call_ids = None
            if calls is not None:
                call_ids = set()
                problems.extend(
                    f"{prefix}: {p}" for p in self._calls(calls, offered, where, call_ids)
                )
        if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
            problems.append("row has no assistant message")
        return problems

    def _row_tools(self, tools: Any, problems: list[str]) -> dict[str, dict[str, Any]]:
        if not isinstance(tools, list):
            problems.append("'tools' must be a list of tool schemas")
            return {}
        offered = {}
        for index, tool in enumerate(tools, start=1):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                problems.append(
                    f"tools[{index}] is not a {{'type': 'function', 'function'}} schema"
                )
                continue
            offered[function["name"]] = function.get("parameters") or {"type": "object"}
        return offered

    def _tool_result(self, message: dict[str, Any], call_ids: set[str] | None) -> list[str]:
        if call_ids is None:
            return ["tool result without a preceding assistant tool call"]
        call_id = message.get("tool_call_id")
        if call_id is not None and call_id not in call_ids:
            return [f"tool_call_id {call_id!r} matches no call of the preceding assistant turn"]
        return []

    def _calls(
        self, calls: Any, offered: dict[str, dict[str, Any]], where: str, call_ids: set[str]
    ) -> list[str]:
        if not isinstance(calls, list):
            return ["tool_calls must be a list"]
        problems = []
        for index, call in enumerate(calls, start=1):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                problems.append(f"tool call {index} has no 'function' object")
                continue
            if isinstance(call.get("id"), str):
                call_ids.add(call["id"])
            name = function.get("name")
            if name not in offered:
                known = ", ".join(sorted(offered)) or "none"
                problems.append(f"tool {name!r} is not offered in {where} ({known})")
                continue
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except json.JSONDecodeError:
                    problems.append(f"tool {name!r}: arguments are not valid JSON")
                    continue
            if not isinstance(arguments, dict):
                kind = type(arguments).__name__
                problems.append(f"tool {name!r}: arguments must be a JSON object, not {kind}")
                continue
            problems.extend(f"tool {name!r}: {p}" for p in self._schema(offered[name], arguments))
        return problems

    def _schema(self, schema: dict[str, Any], arguments: dict[str, Any]) -> list[str]:
        key = json.dumps(schema, sort_keys=True, default=str)
        validator = self._validators.get(key)
        if validator is None:
            cls = validators.validator_for(schema)
            try:
                cls.check_schema(schema)
            except schema_exceptions.SchemaError as invalid:
                return [f"its parameters schema is invalid: {invalid.message}"]
            validator = self._validators[key] = cls(schema)
        error = schema_exceptions.best_match(validator.iter_errors(arguments))
        if error is None:
            return []
        field = ".".join(str(part) for part in error.absolute_path)
        return [f"argument {field!r}: {error.message}" if field else error.message]
