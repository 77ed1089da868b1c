"""Tool calls in model output: the Hermes / Qwen tags the chat template teaches, and the JSON a
model writes instead.

Each format has one parser, looked up by name in ``TOOL_CALL_FORMATS``. ``hermes`` reads blocks
``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``; one that cannot be read becomes
an entry in ``errors`` so the caller can tell the model (or the user) instead of showing it as text
or dropping it. The lenient formats, ``json_block`` (a ```json or plain ``` fence) and ``bare_json``
(an object outside any fence), recover calls only to tools the request offers; JSON that is not
such a call stays in the content and is no error.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"
_TAGS = re.compile(f"({re.escape(OPEN_TAG)}|{re.escape(CLOSE_TAG)})")
_UNCLOSED = f"{OPEN_TAG} is not closed"
# A fence: its language, its body, and its end; one never closed runs to the end of the text.
_FENCE = re.compile(r"```([^\n`]*)(.*?)(?:```|\Z)", re.DOTALL)
_CALL_FENCE_LANGUAGES = ("", "json")
_DECODER = json.JSONDecoder()


@dataclass
class ToolCall:
    """One call the model asked for."""

    name: str
    arguments: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass
class ParsedOutput:
    """The text meant for the reader, the calls, why any block could not be read, and the format
    that recovered each call when the calls came from a lenient format rather than tags."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)


class _BlockError(ValueError):
    """Why one block is not a tool call."""


def parse_tool_calls(
    text: str,
    formats: Sequence[str] = ("hermes",),
    tool_names: Collection[str] | None = None,
) -> ParsedOutput:
    """Split model output into its visible content, its tool calls and the blocks that failed.

    Tags are read first (when ``hermes`` is among ``formats``); the lenient formats are tried in the
    order given only when the tags yield no call and no error, and the first to find a call wins.
    They count a call only to a tool in ``tool_names``, so none or an empty one finds nothing.
    """
    unknown = [name for name in formats if name not in _PARSERS]
    if unknown:
        raise ValueError(
            f"unknown tool call format(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(TOOL_CALL_FORMATS)}"
        )
    offered = frozenset(tool_names or ())
    parsed = _parse_hermes(text, offered) if "hermes" in formats else ParsedOutput(text.strip())
    if parsed.tool_calls or parsed.errors or not offered:
        return parsed
    for name in formats:
        if name != "hermes":
            found = _PARSERS[name](parsed.content, offered)
            if found.tool_calls:
                return found
    return parsed


def _parse_hermes(text: str, offered: frozenset[str]) -> ParsedOutput:
    """Every tag block is a call or an error, whatever tools are offered."""
    parsed = ParsedOutput(content="")
    content: list[str] = []
    at, number = 0, 0
    while (tag := _TAGS.search(text, at)) is not None:
        content.append(text[at : tag.start()])
        at = tag.end()
        if tag.group() == CLOSE_TAG:
            parsed.errors.append(f"a {CLOSE_TAG} has no {OPEN_TAG} before it")
            continue
        number += 1
        body, at, problem = _block_at(text, at)
        if problem:
            parsed.errors.append(f"tool call {number}: {problem}")
            continue
        try:
            parsed.tool_calls.append(_read_block(body))
        except _BlockError as error:
            parsed.errors.append(f"tool call {number}: {error}")
    content.append(text[at:])
    parsed.content = "".join(content).strip()
    return parsed


def _block_at(text: str, start: int) -> tuple[str, int, str | None]:
    """The body of the block whose open tag ends at ``start``, where reading goes on after it,
    and why it is not closed (None when it is). Its JSON is read first, so a tag written inside
    a string value does not end the block."""
    with contextlib.suppress(json.JSONDecodeError, RecursionError):
        _, stop = _DECODER.raw_decode(text, len(text) - len(text[start:].lstrip()))
        after = len(text) - len(text[stop:].lstrip())
        if text.startswith(CLOSE_TAG, after):
            return text[start:stop], after + len(CLOSE_TAG), None
    tag = _TAGS.search(text, start)
    if tag is None:
        return "", len(text), f"{_UNCLOSED} (the output ends; cut off?)"
    if tag.group() == OPEN_TAG:
        return "", tag.start(), f"{_UNCLOSED} (another one starts)"
    return text[start : tag.start()], tag.end(), None


def _parse_json_block(text: str, offered: frozenset[str]) -> ParsedOutput:
    """Fences whose whole content is a call, or a list of calls, to offered tools."""
    calls: list[ToolCall] = []

    def take(fence: re.Match[str]) -> str:
        found = []
        if fence.group(1).strip().lower() in _CALL_FENCE_LANGUAGES:
            with contextlib.suppress(json.JSONDecodeError, RecursionError):
                found = _lenient_calls(json.loads(fence.group(2)), offered)
        calls.extend(found)
        return "" if found else fence.group(0)

    # Every fence is matched, so the end of one is never read as the start of another.
    content = _FENCE.sub(take, text)
    return _recovered(content, calls, "json_block")


def _parse_bare_json(text: str, offered: frozenset[str]) -> ParsedOutput:
    """JSON values outside fences that are a call, or a list of calls, to offered tools."""
    calls: list[ToolCall] = []
    content: list[str] = []
    done = 0  # the text before this is in content or taken as a call
    for start, end in _unfenced_spans(text):
        span, at = text[:end], start
        while (at := _next_json_start(span, at)) < end:
            try:
                value, stop = _DECODER.raw_decode(span, at)
            except (json.JSONDecodeError, RecursionError):  # deep nesting: a degenerate reply
                at += 1
                continue
            found = _lenient_calls(value, offered)
            if found:
                calls.extend(found)
                content.append(text[done:at])
                done = stop
            # JSON that is not a call is skipped whole, so no call is read out of its inside.
            at = stop
    content.append(text[done:])
    return _recovered("".join(content), calls, "bare_json")


def _unfenced_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for fence in _FENCE.finditer(text):
        spans.append((start, fence.start()))
        start = fence.end()
    spans.append((start, len(text)))
    return spans


def _next_json_start(text: str, start: int) -> int:
    """Where the next object or array may begin, or the end of ``text``."""
    starts = [i for i in (text.find("{", start), text.find("[", start)) if i >= 0]
    return min(starts, default=len(text))


def _lenient_calls(value: Any, offered: frozenset[str]) -> list[ToolCall]:
    """The calls ``value`` holds when all of it is calls to offered tools; otherwise none."""
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name.strip() not in offered:
            return []
        if "arguments" not in item and "parameters" in item:  # models write either key
            item = {**item, "arguments": item["parameters"]}
        try:
            calls.append(_read_call(item))
        except _BlockError:
            return []
    return calls


def _recovered(content: str, calls: list[ToolCall], format_name: str) -> ParsedOutput:
    return ParsedOutput(content.strip(), calls, recovered=[format_name] * len(calls))


_PARSERS: dict[str, Callable[[str, frozenset[str]], ParsedOutput]] = {
    "hermes": _parse_hermes,
    "json_block": _parse_json_block,
    "bare_json": _parse_bare_json,
}
TOOL_CALL_FORMATS: tuple[str, ...] = tuple(_PARSERS)


def format_tool_call(call: ToolCall) -> str:
    """The canonical block for ``call``, as the chat template renders an assistant's call."""
    body = json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)
    return f"{OPEN_TAG}\n{body}\n{CLOSE_TAG}"


def _read_block(body: str) -> ToolCall:
    try:
        data = json.loads(body, strict=False)  # a raw tab in a string is read, not refused
    except json.JSONDecodeError as error:
        raise _BlockError(
            f"invalid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from error
    return _read_call(data)


def _read_call(data: Any) -> ToolCall:
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
