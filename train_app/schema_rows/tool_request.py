"""One request for one tool of any schema, and the call it must produce: every required argument
and up to two optional ones, drawn from the schema (or a documented example's arguments), said
in the request and carried by the call exactly as said."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from train_app.schema_rows import phrasing
from train_app.schema_rows.phrasing import Patterns
from train_app.schema_rows.pools import words_of
from train_app.schema_rows.spoken import Language
from train_app.schema_rows.values import NoValue, Said, draw, from_value

MAX_OPTIONAL = 2
_PAIRS = (
    ("start", "end"),
    ("from", "to"),
    ("since", "until"),
    ("min", "max"),
    ("begin", "end"),
    ("earliest", "latest"),
    ("after", "before"),
    ("lower", "upper"),
)
DISTINCT_TRIES = 3
EXAMPLE_CALL_SHARE = 0.5  # of requests for a tool with documented examples, those using one
MAX_EXAMPLE_WORDS = 200  # characters; a longer documented example is not something one says


@dataclass(frozen=True)
class Request:
    text: str
    arguments: dict[str, Any]


def make_request(
    rng: random.Random,
    function: dict[str, Any],
    language: Language,
    patterns: Patterns = "train",
    examples: tuple[dict[str, Any], ...] = (),
) -> Request:
    """A request for ``function`` (the ``function`` of an OpenAI tool); raises NoValue when a
    required argument has no value the schema accepts."""
    parameters = function.get("parameters") or {}
    properties: dict[str, Any] = parameters.get("properties") or {}
    if examples and rng.random() < EXAMPLE_CALL_SHARE:
        said = _from_example(rng, rng.choice(examples), properties, language)
    else:
        said = _drawn(rng, function, properties, parameters.get("required") or [], language)
    pieces = [
        phrasing.argument(rng, name, properties[name], value, language) for name, value in said
    ]
    if len(pieces) > 1 and rng.random() < 0.3:
        rng.shuffle(pieces)
    text = phrasing.request(rng, function, pieces, language, patterns)
    return Request(text, {name: value.value for name, value in said})


def _drawn(
    rng: random.Random,
    function: dict[str, Any],
    properties: dict[str, Any],
    required: list[str],
    language: Language,
) -> list[tuple[str, Said]]:
    needed = [name for name in required if name in properties]
    optional = [name for name in properties if name not in needed]
    chosen = needed + rng.sample(optional, rng.randint(0, min(len(optional), MAX_OPTIONAL)))
    said: list[tuple[str, Said]] = []
    for name in chosen:
        try:
            said.append((name, _distinct(rng, name, properties[name], language, function, said)))
        except NoValue:
            if name in needed:
                raise
    return _ordered(said)


def _ordered(said: list[tuple[str, Said]]) -> list[tuple[str, Said]]:
    """Ranges in order: a start date before its end date, a minimum below its maximum (values of
    a pair of parameters swapped where drawn the other way round)."""
    by_name = dict(said)
    for name, value in said:
        words = words_of(name)
        for low, high in _PAIRS:
            if low not in words:
                continue
            partner = next(
                (
                    other
                    for other in by_name
                    if words_of(other) == [high if w == low else w for w in words]
                ),
                None,
            )
            other = by_name.get(partner) if partner else None
            if (
                partner is not None
                and other is not None
                and _comparable(value.value, other.value)
                and other.value < value.value
            ):
                by_name[name], by_name[partner] = other, value
    return [(name, by_name[name]) for name, _ in said]


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    return numbers or (isinstance(a, str) and isinstance(b, str))


def _distinct(
    rng: random.Random,
    name: str,
    schema: dict[str, Any],
    language: Language,
    function: dict[str, Any],
    said: list[tuple[str, Said]],
) -> Said:
    """A value unlike the other arguments' (a source and a target timezone differ), where the
    schema leaves room for one."""
    value = draw(rng, name, schema, language, function["name"])
    for _ in range(DISTINCT_TRIES):
        if all(value.value != other.value for _, other in said):
            break
        value = draw(rng, name, schema, language, function["name"])
    return value


def _from_example(
    rng: random.Random, example: dict[str, Any], properties: dict[str, Any], language: Language
) -> list[tuple[str, Said]]:
    arguments = example.get("arguments") or {}
    said = [
        (name, from_value(rng, value, language))
        for name, value in arguments.items()
        if name in properties
    ]
    if sum(len(str(value)) for value in arguments.values()) > MAX_EXAMPLE_WORDS:
        raise NoValue("example too long to say")
    return said
