"""Draw an argument value from a parameter's JSON schema, with the words a request says it in.

In order: ``const``, ``enum``, often an ``examples`` value, sometimes the ``default``, then by
type: strings by ``format`` (date, date-time, time, email, uri, uuid, ipv4, hostname) or from the
pool the parameter's name and description pick (``pools``), kept within minLength, maxLength and
pattern; numbers within minimum/maximum (the pool's range where the schema gives none),
integers as integers, multipleOf kept; booleans; arrays of minItems..maxItems items (at most
three); objects with their required properties and some optional ones. A value the schema
refuses is never returned: ``NoValue`` says why none could be drawn.
"""

from __future__ import annotations

import functools
import json
import math
import random
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from train_app.schema_rows import pools
from train_app.schema_rows.spoken import Language, enum_words, say
from train_app.schema_rows.verify import FORMATS

EXAMPLE_SHARE = 0.6  # of parameters with examples, those said with one of them
DEFAULT_SHARE = 0.15  # of optional parameters with a default, those said with it
MAX_OPTIONAL_PROPERTIES = 2  # of a nested object
MAX_ITEMS = 3
MAX_DEPTH = 3
_TRIES = 8
_FORMAT_POOLS = {
    "email": "email",
    "idn-email": "email",
    "uri": "url",
    "url": "url",
    "iri": "url",
    "uri-reference": "url",
    "ipv4": "ip",
    "hostname": "domain",
}
_DATETIME_FORMATS = {"date-time", "datetime", "dateTime", "iso-datetime", "date_time"}


class NoValue(ValueError):
    """No value of the schema can be drawn; the message is the reason, counted per row."""


@dataclass(frozen=True)
class Said:
    """A value and how a request says it: ``words`` for a scalar or a list of scalars, ``parts``
    (name, schema, said) for an object, ``items`` for a list; booleans are said by phrases."""

    value: Any
    words: str = ""
    parts: tuple[tuple[str, dict[str, Any], Said], ...] = ()
    items: tuple[Said, ...] = ()
    quoted: bool = False


def draw(
    rng: random.Random,
    name: str,
    schema: dict[str, Any],
    language: Language,
    tool_name: str = "",
    depth: int = 0,
) -> Said:
    """A value of ``schema`` for the parameter ``name`` of tool ``tool_name``."""
    schema = _resolved(schema)
    if depth > MAX_DEPTH:
        raise NoValue("nested too deep")
    if "const" in schema:
        return _scalar(rng, schema["const"], language)
    enum = [v for v in schema.get("enum") or () if v is not None and _valid(schema, v)]
    if schema.get("enum") and not enum:
        raise NoValue("enum of the wrong type")
    if enum:
        value = rng.choice(enum)
        if isinstance(value, str) and enum_words(value) != value and rng.random() < 0.5:
            return Said(value, enum_words(value))
        return _scalar(rng, value, language)
    examples = [v for v in schema.get("examples") or () if _scalar_value(v) and _valid(schema, v)]
    if examples and rng.random() < EXAMPLE_SHARE:
        return _scalar(rng, rng.choice(examples), language)
    default = schema.get("default")
    if _scalar_value(default) and _valid(schema, default) and rng.random() < DEFAULT_SHARE:
        return _scalar(rng, default, language)
    kind = _type(schema)
    if kind == "boolean":
        return Said(rng.random() < 0.5)
    if kind in ("integer", "number"):
        return _number(rng, name, schema, kind)
    if kind == "array":
        return _array(rng, name, schema, language, tool_name, depth)
    if kind == "object":
        return _object(rng, name, schema, language, tool_name, depth)
    return _string(rng, name, schema, language, tool_name)


def from_value(rng: random.Random, value: Any, language: Language) -> Said:
    """How a request says a value it did not draw (a documented example's argument)."""
    if isinstance(value, dict):
        return Said(
            value, parts=tuple((k, {}, from_value(rng, v, language)) for k, v in value.items())
        )
    if isinstance(value, list):
        items = tuple(from_value(rng, v, language) for v in value)
        return Said(value, items=items)
    return _scalar(rng, value, language)


def _scalar(rng: random.Random, value: Any, language: Language) -> Said:
    return Said(value, "" if isinstance(value, bool) else say(rng, value, language))


def _scalar_value(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and value != ""


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its first non-null ``anyOf``/``oneOf`` branch merged in."""
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key) or () if isinstance(b, dict) and _type(b) != "null"]
        if branches:
            outer = {k: v for k, v in schema.items() if k != key}
            return {**branches[0], **outer}
    return schema


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind:
        return str(kind)
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema else "string"


@functools.lru_cache(maxsize=4096)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=FORMATS)


def _valid(schema: dict[str, Any], value: Any) -> bool:
    return _validator(json.dumps(schema, sort_keys=True)).is_valid(value)


def _number(rng: random.Random, name: str, schema: dict[str, Any], kind: str) -> Said:
    preferred = pools.number_range(name, str(schema.get("description") or ""))
    low, high = _bounds(schema)
    lo, hi = max(low, preferred.low), min(high, preferred.high)
    if lo > hi:  # the pool's range lies outside the schema's bounds: keep near the bound
        lo, hi = (low, min(high, low + 100)) if math.isfinite(low) else (high - 100, high)
    step = schema.get("multipleOf")
    whole = kind == "integer" or (preferred.decimals == 0 and not step)
    for _ in range(_TRIES):
        if whole and math.ceil(lo) <= math.floor(hi):
            value: int | float = rng.randint(math.ceil(lo), math.floor(hi))
        else:
            value = round(rng.uniform(lo, hi), preferred.decimals or 2)
        if step:
            value = round(round(value / step) * step, 6)
        if kind == "integer" or (isinstance(value, float) and value.is_integer()):
            value = int(value)
        if _valid(schema, value):
            return Said(value, str(value))
    raise NoValue("number out of range")


def _bounds(schema: dict[str, Any]) -> tuple[float, float]:
    low, high = -math.inf, math.inf
    if isinstance(schema.get("minimum"), int | float):
        low = float(schema["minimum"])
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        low = max(low, float(schema["exclusiveMinimum"]) + 1)
    if isinstance(schema.get("maximum"), int | float):
        high = float(schema["maximum"])
    if isinstance(schema.get("exclusiveMaximum"), int | float):
        high = min(high, float(schema["exclusiveMaximum"]) - 1)
    return low, high


def _string(
    rng: random.Random, name: str, schema: dict[str, Any], language: Language, tool_name: str
) -> Said:
    form = str(schema.get("format") or "")
    description = str(schema.get("description") or "")
    entries: tuple[str, ...]
    if form == "date":
        entries, quote = ("{date}",), False
    elif form in _DATETIME_FORMATS:
        entries, quote = ("{datetime}",), False
    elif form == "time":
        entries, quote = ("{time}",), False
    elif form in ("uuid", "guid"):
        entries, quote = ("{uuid}",), False
    else:
        key = _FORMAT_POOLS.get(form)
        pool = pools.string_pool(key or name, "" if key else description)
        entries, quote = pool.entries(language), pool.quote
    words = pools.name_words(name, tool_name)
    for _ in range(_TRIES):
        value = pools.fill(rng, rng.choice(entries), words)
        if _valid(schema, value):
            return Said(value, say(rng, value, language), quoted=quote)
    if "pattern" in schema:
        raise NoValue("string pattern")
    low, high = int(schema.get("minLength", 1)), int(schema.get("maxLength", 12))
    size = max(low, min(high, 8))
    value = pools.fill(rng, f"{{lower:{size}}}", words)
    if _valid(schema, value):
        return Said(value, value)
    raise NoValue(f"string format {form or 'length'}")


def _array(
    rng: random.Random,
    name: str,
    schema: dict[str, Any],
    language: Language,
    tool_name: str,
    depth: int,
) -> Said:
    items_schema = schema.get("items") if isinstance(schema.get("items"), dict) else {}
    low = int(schema.get("minItems", 1))
    most = 1 if _type(_resolved(items_schema or {})) in ("object", "array") else MAX_ITEMS
    high = min(int(schema.get("maxItems", most)), max(low, most))
    if low > high:
        raise NoValue("array too long")
    count = rng.randint(max(low, 1), high) if high else 0
    items: list[Said] = []
    for _ in range(count * _TRIES):
        if len(items) == count:
            break
        item = draw(rng, name, items_schema or {"type": "string"}, language, tool_name, depth + 1)
        if all(item.value != other.value for other in items):
            items.append(item)
    value = [item.value for item in items]
    if len(items) < count or not _valid(schema, value):
        raise NoValue("array items")
    return Said(value, items=tuple(items))


def _object(
    rng: random.Random,
    name: str,
    schema: dict[str, Any],
    language: Language,
    tool_name: str,
    depth: int,
) -> Said:
    properties: dict[str, Any] = schema.get("properties") or {}
    if not properties:
        if depth > 0:  # a free-form object inside another says nothing a request could
            raise NoValue("free-form object")
        return _free_object(rng, schema, language, tool_name)
    required = [key for key in schema.get("required", []) if key in properties]
    optional = [key for key in properties if key not in required]
    if schema.get("maxProperties") == 1:
        chosen = [rng.choice(required or optional)]
    else:
        extra = rng.randint(0 if required else 1, min(len(optional), MAX_OPTIONAL_PROPERTIES))
        chosen = required + rng.sample(optional, extra)
    parts = []
    for key in chosen:
        try:
            parts.append(
                (
                    key,
                    properties[key],
                    draw(rng, key, properties[key], language, tool_name, depth + 1),
                )
            )
        except NoValue:
            if key in required:
                raise
    value = {key: said.value for key, _, said in parts}
    if not parts or not _valid(schema, value):
        raise NoValue("nested object")
    return Said(value, parts=tuple(parts))


def _free_object(
    rng: random.Random, schema: dict[str, Any], language: Language, tool_name: str
) -> Said:
    """A map of one entry: a tag-like key and a value of ``additionalProperties``."""
    inner = schema.get("additionalProperties")
    inner = inner if isinstance(inner, dict) else {"type": "string"}
    key = pools.fill(rng, rng.choice(pools.string_pool("tag", "").entries("en")), ["item"])
    said = draw(rng, "value", inner, language, tool_name, MAX_DEPTH)
    value = {key: said.value}
    if not _valid(schema, value):
        raise NoValue("free-form object")
    return Said(value, parts=((key, inner, said),))
