"""Tool calls in model output, in the Hermes / Qwen format the chat template teaches.

A call is a block ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``. Every block is
taken out of the visible content; one that cannot be read becomes an entry in ``errors`` so the
caller can tell the model (or the user) instead of showing it as text or dropping it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"
_TAGS = re.compile(f"({re.escape(OPEN_TAG)}|{re.escape(CLOSE_TAG)})")
_UNCLOSED = f"{OPEN_TAG} is not closed"


@dataclass
class ToolCall:
    """One call the model asked for."""

    name: str
    arguments: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass
class ParsedOutput:
    """The text meant for the reader, the calls, and why any block could not be read."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _BlockError(ValueError):
    """Why one block is not a tool call."""


def parse_tool_calls(text: str) -> ParsedOutput:
    """Split model output into its visible content, its tool calls and the blocks that failed."""
    parsed = ParsedOutput(content="")
    content: list[str] = []
    body: str | None = None  # the text of the block being read; None outside a block
    number = 0
    # The split alternates text and tags, so a block's body is the one piece between its tags.
    for piece in _TAGS.split(text):
        if piece == OPEN_TAG:
            if body is not None:
                parsed.errors.append(f"tool call {number}: {_UNCLOSED} (another one starts)")
            number, body = number + 1, ""
        elif piece == CLOSE_TAG:
            if body is None:
                parsed.errors.append(f"a {CLOSE_TAG} has no {OPEN_TAG} before it")
                continue
            try:
                parsed.tool_calls.append(_read_block(body))
            except _BlockError as error:
                parsed.errors.append(f"tool call {number}: {error}")
            body = None
        elif body is None:
            content.append(piece)
        else:
            body = piece
    if body is not None:
        parsed.errors.append(f"tool call {number}: {_UNCLOSED} (the output ends; cut off?)")
    parsed.content = "".join(content).strip()
    return parsed


def format_tool_call(call: ToolCall) -> str:
    """The canonical block for ``call``, as the chat template renders an assistant's call."""
    body = json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)
    return f"{OPEN_TAG}\n{body}\n{CLOSE_TAG}"


def _read_block(body: str) -> ToolCall:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise _BlockError(
            f"invalid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from error
    if not isinstance(data, dict):
        raise _BlockError(f"expected a JSON object, got {_json_type(data)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _BlockError('missing "name" (a non-empty string)')
    arguments = data.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as error:
            raise _BlockError(f'"arguments" is a string but not JSON ({error.msg})') from error
    if not isinstance(arguments, dict):
        raise _BlockError(f'"arguments" must be a JSON object, got {_json_type(arguments)}')
    return ToolCall(name=name.strip(), arguments=arguments)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def decode_arguments(arguments: Any) -> Any:
    """Call arguments sent as a JSON string become a dict; undecodable ones stay as they are for
    the schema validator to name (OpenAI clients and ShareGPT data send strings)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return arguments
