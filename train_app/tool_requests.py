"""A user request for one tool, with the call it must produce: from the library's templates, or
from the tool's JSON schema alone for tools the library does not know (MCP servers' tools, made
by ``schema_rows``).

The call's arguments are exactly the values the request says (converted where the words differ
from the value: units, enums, dates), so a model trained on these rows learns to copy and
convert, not to invent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from train_app.schema_rows.tool_request import make_request
from train_app.schema_rows.values import NoValue
from train_app.slot_values import Drawn, Language, draw
from train_app.tool_library import PLACEHOLDER, LibraryTool, Template

# Values a schema-made request draws before giving up on the tool (rare: a required pattern).
SCHEMA_TRIES = 4


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
    """A request made from the tool's schema alone (``schema_rows``), in the held-out
    patterns for evaluation; a ValueError names a tool no request can be made for."""
    problem = None
    for _ in range(SCHEMA_TRIES):
        try:
            made = make_request(rng, function, language, "heldout" if heldout else "train")
        except NoValue as reason:
            problem = reason
            continue
        return Request(made.text, made.arguments, {})
    raise ValueError(
        f"tool {function['name']!r}: no request can be made from its schema: {problem}"
    )
