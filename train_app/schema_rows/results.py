"""Tool results for rows whose tools cannot run here (the API corpus's operations), and the
answer a reply writes from any result.

A made-up result is small and plain: a status, what the call asked for, an id for what it
created, a count for what it listed; the answer relays it. Results of tools that do run (the
app's own) come from running them and are answered the same way.
"""

from __future__ import annotations

import random
from typing import Any

from train_app.schema_rows import phrasing, pools
from train_app.schema_rows.spoken import Language

MAX_FACTS = 5
MAX_FACT_CHARS = 400
_CREATES = {"create", "add", "register", "insert", "upload", "post", "generate", "book", "submit"}
_LISTS = {"list", "search", "find", "query", "lookup", "count"}


def synthetic_result(
    rng: random.Random, function: dict[str, Any], arguments: dict[str, Any]
) -> dict[str, Any]:
    """A plausible, small result of calling ``function`` with ``arguments``."""
    result: dict[str, Any] = {"status": "ok"}
    verb = phrasing.purpose(function).text.split()[0] if function.get("description") else ""
    if verb in _CREATES:
        result["id"] = pools.fill(rng, "{hex:10}", [])
    scalars = [(k, v) for k, v in arguments.items() if isinstance(v, str | int | float)]
    result.update(scalars[:3])
    if verb in _LISTS:
        result["total"] = rng.randint(0, 12)
    return result


def facts(result: Any, language: Language) -> str:
    """A result said key by key (the first few keys of an object), or as it is."""
    if isinstance(result, dict) and result:
        separator = "；" if language == "zh" else "; "
        pairs = [f"{key}: {_plain(value)}" for key, value in list(result.items())[:MAX_FACTS]]
        return separator.join(pairs)[:MAX_FACT_CHARS]
    return _plain(result)[:MAX_FACT_CHARS]


def answer(rng: random.Random, result: Any, error: str | None, language: Language) -> str:
    if error:
        return phrasing.failure_answer(rng, error, language)
    return phrasing.result_answer(rng, facts(result, language), language)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value[:5])
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in list(value.items())[:5])
    return str(value)
