"""A user request for one tool, with the call it must produce: from the library's templates, or
from the tool's JSON schema alone for tools the library does not know (MCP servers' tools).

The call's arguments are exactly the values the request says (converted where the words differ
from the value: units, enums, dates), so a model trained on these rows learns to copy and
convert, not to invent.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from train_app.slot_values import Drawn, Language, draw, said_plainly
from train_app.tool_library import PLACEHOLDER, LibraryTool, Template, load_phrasings

_DESCRIPTION_END = re.compile(r",? *\(?e\.g\.|[.;。；(]\s|[.。]$")
# Optional arguments a generic request says, at most.
MAX_GENERIC_OPTIONAL = 2


@dataclass(frozen=True)
class Request:
    text: str
    arguments: dict[str, Any]
    said: dict[str, str]  # slot → its words in the text, for the answer


@dataclass(frozen=True)
class RequestMaker:
    """How requests for one tool are made: its schema, and its library entry when it has one."""

    schema: dict[str, Any]  # the OpenAI-style ``tools`` entry
    library: LibraryTool | None

    @property
    def name(self) -> str:
        return self.schema["function"]["name"]

    def make(self, rng: random.Random, language: Language, heldout: bool) -> Request:
        """A request in ``language``; ``heldout`` picks the phrasings kept out of training."""
        if self.library is not None:
            pool = self._templates(language, heldout)
            return fill_template(rng, rng.choice(pool), self.library.slots, language)
        return generic_request(rng, self.schema["function"], language, heldout)

    def _templates(self, language: Language, heldout: bool) -> tuple[Template, ...]:
        assert self.library is not None
        held = self.library.heldout_requests[language]
        pool = held if heldout and held else self.library.requests[language]
        return pool or self.library.requests["en"] or self.library.requests["zh"]


def fill_template(
    rng: random.Random, template: Template, slots: dict[str, Any], language: Language
) -> Request:
    drawn: dict[str, Drawn] = {
        slot: draw(rng, slots[slot], language, f"slot {slot!r}") for slot in template.slots
    }
    text = PLACEHOLDER.sub(lambda m: drawn[m.group(1)].said, template.text)
    arguments: dict[str, Any] = {}
    for slot, value in [*((s, d.value) for s, d in drawn.items()), *template.args.items()]:
        _set_path(arguments, slot.split("."), value)
    return Request(text, arguments, {slot: d.said for slot, d in drawn.items()})


def _set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def generic_request(
    rng: random.Random, function: dict[str, Any], language: Language, heldout: bool
) -> Request:
    """A request written from the tool's description and schema: every required argument and
    up to two optional ones, with values picked by the argument's name or type."""
    phrasings = load_phrasings()
    parameters = function.get("parameters") or {}
    properties: dict[str, Any] = parameters.get("properties", {})
    required = [name for name in parameters.get("required", []) if name in properties]
    optional = [name for name in properties if name not in required]
    chosen = required + rng.sample(
        optional, min(len(optional), rng.randint(0, MAX_GENERIC_OPTIONAL))
    )
    arguments, said = {}, {}
    for name in chosen:
        drawn = generic_value(rng, name, properties[name], language)
        arguments[name], said[name] = drawn.value, drawn.said
    pieces = [
        phrasings["generic_argument"][language].format(
            key=_argument_key(name, properties[name]), value=said[name]
        )
        for name in chosen
    ]
    templates = phrasings["generic_requests"][language]
    held = phrasings["generic_heldout_requests"]
    pool = templates[-held:] if heldout else templates[:-held]
    description = (function.get("description") or function["name"]).strip().rstrip(".。") + (
        "。" if language == "zh" else "."
    )
    text = rng.choice(pool).format(
        description=description,
        description_lower=description[:1].lower() + description[1:],
        name=function["name"],
        arguments=phrasings["generic_argument_joiner"][language].join(pieces),
    )
    return Request(text, arguments, said)


def _argument_key(name: str, schema: dict[str, Any]) -> str:
    """The argument's description up to its first example or sentence end, else its name."""
    description = _DESCRIPTION_END.split(str(schema.get("description") or ""))[0].strip()
    return description if 0 < len(description) <= 40 else name


def generic_value(
    rng: random.Random, name: str, schema: dict[str, Any], language: Language
) -> Drawn:
    """A value for an argument the library has no slot for: its enum, its examples, or a pool
    chosen by a word of its name or description, converted to the schema's type."""
    if schema.get("enum"):
        value = rng.choice(schema["enum"])
        return Drawn(value, said_plainly(value))
    if schema.get("examples"):
        value = rng.choice(schema["examples"])
        return Drawn(value, said_plainly(value))
    kind = schema.get("type")
    if kind == "integer":
        value = rng.randint(int(schema.get("minimum", 1)), int(schema.get("maximum", 100)))
        return Drawn(value, str(value))
    if kind == "number":
        value = round(
            rng.uniform(float(schema.get("minimum", 1)), float(schema.get("maximum", 500))), 1
        )
        return Drawn(value, str(value))
    if kind == "boolean":
        value = rng.random() < 0.5
        return Drawn(value, said_plainly(value))
    if kind == "array":
        item = generic_value(rng, name, schema.get("items") or {"type": "string"}, language)
        return Drawn([item.value], item.said)
    if kind == "object":
        return Drawn({}, "{}")
    pools = load_phrasings()["value_pools"]
    words = f"{name} {schema.get('description', '')}".lower()
    pool = next((pool for key, pool in pools.items() if key in words), pools["any"])
    drawn = draw(rng, pool, language, f"value pool for {name!r}")
    return Drawn(str(drawn.value), drawn.said)
