"""A typed Python function becomes a tool: its name, docstring and signature give the schema."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar, get_type_hints

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from pydantic import ConfigDict, PydanticUserError, create_model

from configs.settings import ToolCapability, ToolsConfig
from tools.errors import ToolLoadError

# A keyword-only parameter of this name and type is filled by the registry, not by the model.
CONFIG_PARAMETER = "config"
# Where @capabilities leaves its marks on a tool function.
_CAPABILITIES_ATTRIBUTE = "tool_capabilities"

F = TypeVar("F", bound=Callable[..., Any])

# Keys whose values map names to schemas; a parameter may itself be called "title".
_SCHEMA_MAPS = ("properties", "$defs", "patternProperties", "dependentSchemas")
# Keys holding literal values (a default dict may well have a "title" key of its own).
_LITERALS = ("default", "const", "enum", "examples")


@dataclass(frozen=True)
class ToolSpec:
    """What the model is told about a tool."""

    name: str
    description: str
    parameters: dict[str, Any]

    def openai_schema(self) -> dict[str, Any]:
        """The OpenAI / chat-template ``tools`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True)
class Tool:
    """A callable tool: its spec, the function, and the validator of its arguments.

    ``function`` is a plain function (run in a thread) or, for tools of MCP servers, a coroutine
    function; ``timeout_s`` overrides ``tools.timeout_s`` for it. ``capabilities`` says what it
    can do beyond reading local data (``tools.chat_capabilities`` decides whether chats get it).
    """

    spec: ToolSpec
    function: Callable[..., Any]
    takes_config: bool
    validator: Draft202012Validator
    timeout_s: float | None = None
    capabilities: frozenset[ToolCapability] = frozenset()


def capabilities(*names: ToolCapability) -> Callable[[F], F]:
    """Mark a tool function with what it can do beyond reading local data: ``write`` (it changes
    files or other state), ``network`` (it reaches outside services)."""

    def mark(func: F) -> F:
        setattr(func, _CAPABILITIES_ATTRIBUTE, frozenset(names))
        return func

    return mark


def tool_from_function(func: Callable[..., Any]) -> Tool:
    """Derive a tool from ``func``'s typed signature; raise ToolLoadError saying what is missing."""
    name = getattr(func, "__name__", None)
    if not isinstance(name, str) or not inspect.isfunction(func):
        raise ToolLoadError(f"tool {func!r} is not a plain function")
    if inspect.iscoroutinefunction(func):
        raise ToolLoadError(f"tool {name} is async; tools are plain functions run in a thread")
    description = _first_paragraph(inspect.getdoc(func))
    if not description:
        raise ToolLoadError(f"tool {name} has no docstring; its first paragraph describes the tool")
    try:
        hints = get_type_hints(func, include_extras=True)
    except Exception as error:
        raise ToolLoadError(f"tool {name} has type hints that do not resolve: {error}") from error

    fields: dict[str, Any] = {}
    takes_config = False
    for parameter in inspect.signature(func).parameters.values():
        if parameter.name == CONFIG_PARAMETER:
            keyword_only = parameter.kind is parameter.KEYWORD_ONLY
            if not keyword_only or hints.get(CONFIG_PARAMETER) is not ToolsConfig:
                raise ToolLoadError(
                    f"tool {name}: parameter 'config' is reserved; declare it as "
                    "'*, config: ToolsConfig' to receive the tools settings"
                )
            takes_config = True
            continue
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise ToolLoadError(
                f"tool {name}: parameter {parameter.name!r} must be passable by keyword "
                "(no *args, **kwargs or positional-only parameters)"
            )
        if parameter.name.startswith("_"):
            # pydantic would take it for a private attribute and leave it out of the schema.
            raise ToolLoadError(f"tool {name}: parameter {parameter.name!r} starts with '_'")
        if parameter.name not in hints:
            raise ToolLoadError(f"tool {name}: parameter {parameter.name!r} has no type hint")
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], default)

    try:
        model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        parameters = _strip_titles(model.model_json_schema())
    except PydanticUserError as error:
        raise ToolLoadError(f"tool {name}: its parameters have no JSON schema: {error}") from error
    parameters.setdefault("properties", {})
    Draft202012Validator.check_schema(parameters)
    spec = ToolSpec(name=name, description=description, parameters=parameters)
    marked: frozenset[ToolCapability] = getattr(func, _CAPABILITIES_ATTRIBUTE, frozenset())
    return Tool(spec, func, takes_config, Draft202012Validator(parameters), capabilities=marked)


def schema_problem(parameters: Any) -> str | None:
    """Why a tool's ``parameters`` are not a JSON schema one can validate calls with; None if
    they are. Clients of /v1 send their own, so they are checked before any call is judged."""
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        return "must be a JSON schema object"
    try:
        key = json.dumps(parameters, sort_keys=True)
    except (TypeError, ValueError):
        return "must be a JSON schema object"
    return _checked_schema_problem(key)


@lru_cache(maxsize=1024)
def _checked_schema_problem(schema_json: str) -> str | None:
    """``schema_problem`` of a schema given as its canonical JSON. Cached: /v1 clients send the
    same tool list with every request, and checking it took ~18 ms of the ingress's CPU for
    the 7 built-in tools (py-spy, c=8 bursts), time the model's replica loses on 2 cores."""
    parameters = json.loads(schema_json)
    try:
        validator_for(parameters, default=Draft202012Validator).check_schema(parameters)
    except SchemaError as error:
        return str(error.message)
    return None


def schema_validator(schema: dict[str, Any]) -> Any:
    """The validator of a schema checked by ``schema_problem``, in the JSON Schema draft its
    ``$schema`` names (2020-12 when it names none)."""
    return validator_for(schema, default=Draft202012Validator)(schema)


def argument_errors(arguments: Any, parameters: dict[str, Any] | None) -> list[str]:
    """Why ``arguments`` break a tool's ``parameters`` schema (checked by ``schema_problem``);
    empty when they fit. No parameters means any object."""
    validator = schema_validator(parameters or {"type": "object"})
    return [error.message for error in validator.iter_errors(arguments)]


def _first_paragraph(docstring: str | None) -> str:
    paragraph = (docstring or "").strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def _strip_titles(schema: Any) -> Any:
    """Drop pydantic's generated ``title`` keys, which only repeat the names the model sees."""
    if isinstance(schema, list):
        return [_strip_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in _LITERALS:
            cleaned[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            cleaned[key] = {name: _strip_titles(sub) for name, sub in value.items()}
        else:
            cleaned[key] = _strip_titles(value)
    return cleaned
