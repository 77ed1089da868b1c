"""Masked names: a row whose tools' function and parameter names are random strings, so a model
must read the descriptions to choose and fill a call (as Hammer trains). Descriptions, values
and the request stay as they are; the calls and tool messages use the masked names.

Only a tool whose description and top-level parameters all have descriptions is masked (a name
is the only hint a parameter without one has); the other tools of the row keep their names.
"""

from __future__ import annotations

import copy
import random
from typing import Any

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_CHARACTERS = _LETTERS + "0123456789"


def maskable(tool: dict[str, Any]) -> bool:
    function = tool["function"]
    properties = (function.get("parameters") or {}).get("properties") or {}
    return bool(function.get("description")) and all(
        isinstance(schema, dict) and schema.get("description") for schema in properties.values()
    )


def masked_row(rng: random.Random, row: dict[str, Any]) -> dict[str, Any] | None:
    """``row`` with its maskable tools renamed; None when none of its tools is maskable."""
    names: dict[str, tuple[str, dict[str, str]]] = {}
    tools = []
    for tool in row["tools"]:
        if not maskable(tool):
            tools.append(tool)
            continue
        function = tool["function"]
        parameters = copy.deepcopy(function.get("parameters") or {"type": "object"})
        properties = parameters.get("properties") or {}
        renamed = {key: _random_name(rng) for key in properties}
        parameters["properties"] = {renamed[key]: value for key, value in properties.items()}
        if "required" in parameters:
            parameters["required"] = [renamed.get(key, key) for key in parameters["required"]]
        new_name = _random_name(rng)
        names[function["name"]] = (new_name, renamed)
        tools.append(
            {
                "type": "function",
                "function": {**function, "name": new_name, "parameters": parameters},
            }
        )
    if not names:
        return None
    messages = [_masked_message(message, names) for message in row["messages"]]
    return {**row, "tools": tools, "messages": messages}


def _masked_message(
    message: dict[str, Any], names: dict[str, tuple[str, dict[str, str]]]
) -> dict[str, Any]:
    if message.get("role") == "tool" and message.get("name") in names:
        return {**message, "name": names[message["name"]][0]}
    if not message.get("tool_calls"):
        return message
    calls = []
    for call in message["tool_calls"]:
        function = call["function"]
        if function["name"] not in names:
            calls.append(call)
            continue
        new_name, renamed = names[function["name"]]
        arguments = {renamed.get(key, key): value for key, value in function["arguments"].items()}
        calls.append({**call, "function": {"name": new_name, "arguments": arguments}})
    return {**message, "tool_calls": calls}


def _random_name(rng: random.Random) -> str:
    """A random identifier: a letter, then 5-9 letters or digits."""
    size = rng.randint(5, 9)
    return rng.choice(_LETTERS) + "".join(rng.choice(_CHARACTERS) for _ in range(size))
