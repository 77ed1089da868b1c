"""Read a user's dataset file into canonical chat rows (OpenAI format, arguments as dicts).

Accepted inputs:

- ``.jsonl``: one row per line, read line by line with the stdlib so that every unreadable line is
  reported with its line number;
- ``.json``: a JSON array of rows (or JSON Lines under a ``.json`` name), also read with the stdlib;
- ``.parquet``: read through ``datasets`` (``load_dataset("parquet", ..., split="train")``);
- a folder: its ``train.jsonl``, ``train.json`` or ``train.parquet``, the first one present.

Why not ``datasets`` for JSON too: it infers one Arrow type per column, and where rows disagree
(``content`` a string here and a list there) it stores the column as JSON text and decodes every
value on the way out, so a message whose content is ``"42"`` comes back as the number 42. Parquet
carries its own schema, so that cannot happen there; but Arrow gives every row of a struct column
all the keys seen in any row, null where a row had none, so rows read from Parquet have their
null-valued keys dropped (a real ``null`` argument is lost with them; absent and null mean the same
to our tools).

Rows in ShareGPT tool format (``conversations`` or ``messages`` of ``from``/``value`` turns, roles
``system``/``human``/``gpt``/``function_call``/``observation``) are converted; OpenAI rows get
``arguments`` decoded to dicts, missing call ids filled in, and bare function specs in ``tools``
wrapped as ``{"type": "function", "function": ...}``. Anything else is left as it is for
``dataset_validation`` to report.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.tool_calls import decode_arguments

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".parquet")
TRAIN_FILES = tuple(f"train{suffix}" for suffix in SUPPORTED_SUFFIXES)
# How many row errors an exception keeps, and how many its message lists.
MAX_KEPT_ERRORS = 20
MAX_LISTED_ERRORS = 5

_SHAREGPT_ROLES: dict[object, str] = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
}
_SHAREGPT_CALL = "function_call"
_SHAREGPT_RESULTS = ("observation", "function", "tool")


@dataclass(frozen=True)
class RowError:
    """One problem of one row; ``row`` is the 1-based line (JSONL) or record number."""

    row: int
    message: str

    def __str__(self) -> str:
        return f"line {self.row}: {self.message}"


class DatasetError(ValueError):
    """A dataset that cannot be used; ``errors`` holds the first row problems, if any."""

    def __init__(self, message: str, errors: Sequence[RowError] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)[:MAX_KEPT_ERRORS]

    @classmethod
    def from_row_errors(cls, source: str | Path, errors: Sequence[RowError]) -> DatasetError:
        """An error whose message lists the first few problems, e.g. ``line 3: unknown role``."""
        listed = "; ".join(str(error) for error in errors[:MAX_LISTED_ERRORS])
        more = len(errors) - MAX_LISTED_ERRORS
        suffix = f"; ... and {more} more" if more > 0 else ""
        noun = "problem" if len(errors) == 1 else "problems"
        return cls(f"{source}: {len(errors)} {noun}: {listed}{suffix}", errors)


class _ConversionError(ValueError):
    """A row that is recognisably ShareGPT/OpenAI but cannot be converted."""


def load_rows(path: str | Path) -> list[Any]:
    """The canonical rows of a dataset file or folder; raises DatasetError naming the file."""
    return [row for _, row in load_numbered_rows(path)]


def load_numbered_rows(path: str | Path) -> list[tuple[int, Any]]:
    """``(line or record number, canonical row)`` pairs, so later checks can name the line."""
    rows, errors = read_numbered_rows(path)
    if errors:
        raise DatasetError.from_row_errors(resolve_dataset_file(Path(path)), errors)
    return rows


def read_numbered_rows(path: str | Path) -> tuple[list[tuple[int, Any]], list[RowError]]:
    """The rows that could be read, and a RowError for each that could not (bad JSON, bad shape).

    Reading goes on past a bad line so that a user sees every problem of a file at once.
    """
    file = resolve_dataset_file(Path(path))
    errors: list[RowError]
    if file.suffix == ".parquet":
        numbered, errors = list(enumerate(_read_parquet(file), start=1)), []
    else:
        numbered, errors = _read_json_rows(file)
    if not numbered and not errors:
        raise DatasetError(f"{file} holds no rows")
    rows: list[tuple[int, Any]] = []
    for number, raw in numbered:
        try:
            rows.append((number, to_canonical(raw)))
        except _ConversionError as error:
            errors.append(RowError(number, str(error)))
    logger.info("read %d rows from %s (%d unreadable)", len(rows), file, len(errors))
    return rows, errors


def resolve_dataset_file(path: Path) -> Path:
    """The file to read for ``path``: itself, or a folder's train file."""
    if path.is_dir():
        for name in TRAIN_FILES:
            if (path / name).is_file():
                return path / name
        raise DatasetError(f"folder {path} has none of {', '.join(TRAIN_FILES)}")
    if not path.exists():
        raise DatasetError(f"dataset file {path} does not exist")
    if path.suffix not in SUPPORTED_SUFFIXES:
        raise DatasetError(
            f"dataset file {path} has an unsupported extension {path.suffix!r}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return path


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read dataset file {file}: {error}") from error


def _read_json_rows(file: Path) -> tuple[list[tuple[int, Any]], list[RowError]]:
    text = _read_text(file)
    if file.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            if error.msg != "Extra data":  # "Extra data" after a first row: it is JSON Lines
                row_error = RowError(error.lineno, f"invalid JSON: {error.msg}")
                raise DatasetError.from_row_errors(file, [row_error]) from error
        else:
            return list(enumerate(data if isinstance(data, list) else [data], start=1)), []
    numbered: list[tuple[int, Any]] = []
    errors: list[RowError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            numbered.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            errors.append(RowError(number, f"invalid JSON: {error.msg} (column {error.colno})"))
    return numbered, errors


def _read_parquet(file: Path) -> list[Any]:
    import datasets  # heavy; only Parquet needs it

    try:
        table = datasets.load_dataset("parquet", data_files=str(file), split="train")
    except Exception as error:  # datasets wraps Arrow errors in several exception types
        cause = error.__cause__ or error
        raise DatasetError(f"cannot read Parquet file {file}: {cause}") from error
    return [_drop_nulls(row) for row in table.to_list()]


def _drop_nulls(value: Any) -> Any:
    """Remove the null-valued keys Arrow's struct columns give rows that lacked those keys."""
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value]
    return value


def to_canonical(row: Any) -> Any:
    """One row in canonical form; rows that are not recognisably chat rows come back unchanged."""
    if not isinstance(row, dict):
        return row
    turns = row.get("conversations", row.get("messages"))
    if not isinstance(turns, list):
        return row
    if _is_sharegpt(turns):
        messages = _sharegpt_messages(turns)
        system = row.get("system")
        if isinstance(system, str) and system and not _starts_with_system(messages):
            messages.insert(0, {"role": "system", "content": system})
    else:
        messages = _openai_messages(turns)
    canonical: dict[str, Any] = {"messages": messages}
    tools = _tools(row.get("tools"))
    if tools:
        canonical["tools"] = tools
    return canonical


def openai_tool(spec: Any) -> dict[str, Any]:
    """The ``{"type": "function", "function": ...}`` schema of a ToolSpec or a tool dict."""
    if hasattr(spec, "openai_schema"):
        return spec.openai_schema()
    if isinstance(spec, dict) and "function" in spec:
        return spec
    if isinstance(spec, dict) and "name" in spec:
        return {"type": "function", "function": spec}
    raise _ConversionError(f"tool {spec!r} is neither an OpenAI tool schema nor a function spec")


def _is_sharegpt(turns: list[Any]) -> bool:
    return any(isinstance(turn, dict) and "from" in turn for turn in turns)


def _starts_with_system(messages: list[dict[str, Any]]) -> bool:
    return bool(messages) and messages[0].get("role") == "system"


def _tools(tools: Any) -> list[Any]:
    if tools is None or tools == "":
        return []
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError as error:
            raise _ConversionError(f"tools is not valid JSON: {error.msg}") from error
    if not isinstance(tools, list):
        raise _ConversionError(f"tools must be a list of tool schemas, not {type(tools).__name__}")
    return [openai_tool(tool) for tool in tools]


def _call(name: Any, arguments: Any, call_id: str) -> dict[str, Any]:
    function = {"name": name, "arguments": decode_arguments(arguments)}
    return {"id": call_id, "type": "function", "function": function}


def _openai_messages(turns: list[Any]) -> list[Any]:
    messages: list[Any] = []
    count = 0
    for turn in turns:
        calls = turn.get("tool_calls") if isinstance(turn, dict) else None
        if not calls or not isinstance(calls, list):
            messages.append(turn)
            continue
        converted = []
        for call in calls:
            if not isinstance(call, dict):
                converted.append(call)
                continue
            function = call.get("function", call)
            if not isinstance(function, dict):
                converted.append(call)
                continue
            call_id = call.get("id") or f"call_{count}"
            converted.append(_call(function.get("name"), function.get("arguments"), call_id))
            count += 1
        messages.append({**turn, "tool_calls": converted})
    return messages


def _sharegpt_messages(turns: list[Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []  # calls still waiting for their observation
    count = 0
    for index, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise _ConversionError(f"turn {index} is not an object")
        source, value = turn.get("from"), turn.get("value")
        if source == _SHAREGPT_CALL:
            calls = _parse_function_call(index, value)
            new = [
                _call(c["name"], c.get("arguments", {}), f"call_{count + i}")
                for i, c in enumerate(calls)
            ]
            count += len(new)
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and last.get("tool_calls"):
                last["tool_calls"].extend(new)  # consecutive calls are one parallel-call turn
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": new})
            pending.extend(new)
        elif source in _SHAREGPT_RESULTS:
            content = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            message: dict[str, Any] = {"role": "tool", "content": content}
            if pending:
                call = pending.pop(0)
                message.update(tool_call_id=call["id"], name=call["function"]["name"])
            messages.append(message)
        else:
            # An unknown speaker keeps its name as the role, so validation can report it.
            messages.append({"role": _SHAREGPT_ROLES.get(source, source), "content": value})
            pending = []
    return messages


def _parse_function_call(index: int, value: Any) -> list[dict[str, Any]]:
    """A function_call turn's value: JSON ``{"name", "arguments"}``, or a list of those."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise _ConversionError(
                f"turn {index} (function_call) is not JSON: {error.msg}"
            ) from error
    calls = value if isinstance(value, list) else [value]
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise _ConversionError(
                f'turn {index} (function_call) must be {{"name": ..., "arguments": ...}}'
            )
    return calls
