"""The check every generated row passes before it is trained on (or scored with).

A row is refused, with a reason that is counted in the dataset summary, when:

- ``row format``: ``dataset_validation`` finds a problem (roles, offered tools, arguments
  against the schema);
- ``arguments invalid``: a call's arguments fail their schema with formats checked too (date,
  date-time, time, email, uri, uuid, ipv4);
- ``value not said``: a string or number in a call's arguments is not in the user turn it
  answers, neither as it is nor in a declared conversion (``spoken``, or the tool library's own
  value → words pairs passed as ``declared``).
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Collection, Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

from jsonschema import Draft202012Validator, FormatChecker

from train_app.dataset_validation import validate_rows
from train_app.schema_rows.spoken import is_said, normalized_text

Declared = Mapping[str, Collection[str]]

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        raise ValueError("no time part")
    datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


@FORMATS.checks("time", raises=ValueError)
def _time(value: object) -> bool:
    if isinstance(value, str):
        datetime.time.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlparse(value)
    return bool(parts.scheme and (parts.netloc or parts.path))


def row_problem(row: dict[str, Any], declared: Declared | None = None) -> tuple[str, str] | None:
    """(reason, detail) of the first problem of ``row``, or None when it may be trained on."""
    errors = validate_rows([row], [])
    if errors:
        return "row format", errors[0].message
    offered = {
        tool["function"]["name"]: tool["function"].get("parameters") or {"type": "object"}
        for tool in row.get("tools") or ()
    }
    asked = ""
    for message in row["messages"]:
        if message["role"] == "user":
            asked = message["content"]
        for call in message.get("tool_calls") or () if message["role"] == "assistant" else ():
            name = call["function"]["name"]
            arguments = call["function"]["arguments"]
            if isinstance(arguments, str):
                arguments = json.loads(arguments)
            error = first_schema_error(offered[name], arguments)
            if error:
                return "arguments invalid", f"{name}: {error}"
            for value in leaves(arguments):
                if not said(value, asked, declared):
                    return "value not said", f"{name}: {value!r} is not in {asked!r}"
    return None


def said(value: Any, text: str, declared: Declared | None = None) -> bool:
    """Whether ``text`` says ``value``, in a declared form."""
    if is_said(value, text):
        return True
    words = (declared or {}).get(str(value), ())
    haystack = normalized_text(text)
    return any(normalized_text(word) in haystack for word in words)


def leaves(value: Any) -> Iterator[Any]:
    """The strings and numbers of a value, inside lists and objects (keys are not values)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield value


def first_schema_error(schema: dict[str, Any], arguments: Any) -> str | None:
    """Where and why ``arguments`` first fail ``schema``, formats (dates, URIs) checked too."""
    error = next(_validator(json.dumps(schema, sort_keys=True)).iter_errors(arguments), None)
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


@functools.lru_cache(maxsize=4096)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=FORMATS)
