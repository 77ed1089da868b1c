"""ToolRegistry: schemas from signatures, checked arguments, failures as outcomes (never raised)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Annotated

import pytest
from pydantic import Field

from configs.settings import ToolsConfig
from tools.errors import ToolInputError, ToolLoadError, ToolUnavailableError
from tools.registry import ToolRegistry, tool_from_function
from tools.tool_spec import capabilities

BUILTINS = {
    "calculate",
    "get_current_time",
    "get_weather",
    "web_search",
    "list_files",
    "read_file",
    "write_file",
}


def describe_book(
    title: Annotated[str, Field(description="The book's title")],
    pages: int,
    tags: list[str] | None = None,
    *,
    shelf: Annotated[int, Field(description="Shelf number", ge=1)] = 1,
    config: ToolsConfig,
) -> dict:
    """Describe a book for the catalogue.

    This second paragraph is for humans reading the code, not for the model.
    """
    return {"title": title, "pages": pages, "tags": tags, "shelf": shelf, "limit": config.timeout_s}


def sleepy(seconds: float) -> str:
    """Sleep, then answer; stands in for a tool that hangs."""
    time.sleep(seconds)
    return "awake"


def explode(kind: str) -> str:
    """Fail in the way asked for."""
    errors = {
        "input": ToolInputError("bad input"),
        "unavailable": ToolUnavailableError("service down"),
        "timeout": TimeoutError("socket timed out"),
        "bug": RuntimeError("boom"),
        "exit": SystemExit(3),
    }
    raise errors[kind]


def opaque() -> object:
    """Return something JSON cannot carry."""
    return threading.Lock()


def untyped(value) -> str:  # noqa: ANN001 (the missing hint is the point)
    """No type hint."""
    return str(value)


def underscored(_secret: int) -> int:
    """A parameter the schema could not show."""
    return _secret


def config_positional(config: ToolsConfig) -> str:
    """Takes config positionally."""
    return ""


def calculate(expression: str) -> str:
    """Collides with the built-in calculate."""
    return expression


def test_schema_comes_from_the_signature_without_config_or_titles():
    spec = tool_from_function(describe_book).spec
    assert spec.name == "describe_book"
    assert spec.description == "Describe a book for the catalogue."
    assert spec.parameters == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "title": {"type": "string", "description": "The book's title"},
            "pages": {"type": "integer"},
            "tags": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "default": None,
            },
            "shelf": {"type": "integer", "description": "Shelf number", "minimum": 1, "default": 1},
        },
        "required": ["title", "pages"],
    }
    assert spec.openai_schema() == {
        "type": "function",
        "function": {
            "name": "describe_book",
            "description": spec.description,
            "parameters": spec.parameters,
        },
    }


def test_default_config_offers_every_builtin_tool():
    registry = ToolRegistry.from_config(ToolsConfig())
    assert {spec.name for spec in registry.specs()} == BUILTINS
    weather = registry.get("get_weather").spec.parameters
    assert weather["required"] == ["location"]
    assert "config" not in weather["properties"]
    assert registry.get("no_such_tool") is None


def test_builtin_tools_that_write_or_reach_the_network_say_so():
    registry = ToolRegistry.from_config(ToolsConfig())
    marked = {tool.spec.name: set(tool.capabilities) for tool in registry.tools()}
    assert {name: caps for name, caps in marked.items() if caps} == {
        "get_weather": {"network"},
        "web_search": {"network"},
        "write_file": {"write"},
    }


def test_a_tool_function_declares_its_capabilities():
    @capabilities("write", "network")
    def publish(text: str) -> str:
        """Publish a text on the web."""
        return text

    assert tool_from_function(publish).capabilities == {"write", "network"}
    assert tool_from_function(sleepy).capabilities == frozenset()


@pytest.fixture
def registry():
    functions = [f"{__name__}:{name}" for name in ("describe_book", "sleepy", "explode", "opaque")]
    return ToolRegistry.from_config(
        ToolsConfig(functions=[*functions, "tools.builtin.calculator:calculate"], timeout_s=0.2)
    )


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_call_gets_the_tools_config_injected(registry):
    outcome = run(registry.execute("describe_book", {"title": "Dune", "pages": 412}))
    assert outcome.ok, outcome.error
    assert outcome.result == {"title": "Dune", "pages": 412, "tags": None, "shelf": 1, "limit": 0.2}
    assert outcome.to_dict() == {
        "name": "describe_book",
        "arguments": {"title": "Dune", "pages": 412},
        "ok": True,
        "result": outcome.result,
        "error": None,
        "error_kind": None,
    }


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"pages": 1}, "'title' is a required property"),
        ({"title": "Dune", "pages": "many"}, "pages: 'many' is not of type 'integer'"),
        ({"title": "Dune", "pages": 1, "shelf": 0}, "shelf: 0 is less than the minimum of 1"),
        ({"title": "Dune", "pages": 1, "tags": [1]}, "tags.0: 1 is not"),
        ({"title": "Dune", "pages": 1, "config": {}}, "'config' was unexpected"),
    ],
)
def test_schema_violations_name_the_field(registry, arguments, named):
    outcome = run(registry.execute("describe_book", arguments))
    assert (outcome.ok, outcome.error_kind) == (False, "invalid_arguments")
    assert named in outcome.error


def test_arguments_that_are_not_an_object_are_invalid(registry):
    outcome = run(registry.execute("calculate", "2+2"))
    assert outcome.error_kind == "invalid_arguments"
    assert "JSON object" in outcome.error


def test_unknown_tool_lists_the_known_ones(registry):
    outcome = run(registry.execute("rm_rf", {}))
    assert outcome.error_kind == "unknown_tool"
    assert "rm_rf" in outcome.error and "calculate" in outcome.error


def test_a_hanging_tool_times_out_without_blocking_the_caller(registry):
    async def timed():
        started = time.monotonic()
        outcome = await registry.execute("sleepy", {"seconds": 1})
        return outcome, time.monotonic() - started

    outcome, elapsed = run(timed())
    assert outcome.error_kind == "timeout"
    assert "0.2 s" in outcome.error
    assert elapsed < 0.6


@pytest.mark.parametrize(
    ("kind", "error_kind", "message"),
    [
        ("input", "tool_error", "bad input"),
        ("unavailable", "unavailable", "service down"),
        ("timeout", "tool_error", "TimeoutError: socket timed out"),
        ("bug", "tool_error", "RuntimeError: boom"),
        ("exit", "tool_error", "SystemExit: 3"),
    ],
)
def test_tool_exceptions_become_outcomes(registry, kind, error_kind, message):
    outcome = run(registry.execute("explode", {"kind": kind}))
    assert (outcome.ok, outcome.error_kind) == (False, error_kind)
    assert message in outcome.error


def test_a_result_json_cannot_carry_is_a_tool_error(registry):
    outcome = run(registry.execute("opaque", {}))
    assert outcome.error_kind == "tool_error"
    assert "non-JSON" in outcome.error


def test_calculator_refusals_are_tool_errors(registry):
    outcome = run(registry.execute("calculate", {"expression": "__import__('os')"}))
    assert outcome.error_kind == "tool_error"
    assert "function calls" in outcome.error


def test_execute_many_runs_calls_concurrently_in_order(registry):
    calls = [("sleepy", {"seconds": 0.15}), ("calculate", {"expression": "6*7"})] * 3
    started = time.monotonic()
    outcomes = run(registry.execute_many(calls))
    assert time.monotonic() - started < 0.4
    assert [o.result for o in outcomes] == ["awake", 42] * 3


def test_each_failed_call_logs_one_line(registry, caplog):
    with caplog.at_level(logging.WARNING, logger="tools.registry"):
        run(registry.execute_many([("rm_rf", {}), ("calculate", {"expression": "1"})]))
    assert [r.getMessage() for r in caplog.records] == [
        "tool call rm_rf failed (unknown_tool): unknown tool 'rm_rf'; known: calculate, "
        "describe_book, explode, opaque, sleepy"
    ]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("no.such.module:f", "cannot import 'no.such.module'"),
        ("tools.builtin.calculator:nope", "has no 'nope'"),
        ("math:pi", "is not callable"),
        ("tools.builtin.calculator", "is not 'package.module:function'"),
        (f"{__name__}:untyped", "parameter 'value' has no type hint"),
        (f"{__name__}:config_positional", "'config' is reserved"),
        (f"{__name__}:underscored", "'_secret' starts with '_'"),
        ("builtins:len", "not a plain function"),
    ],
)
def test_a_bad_functions_entry_is_named_in_the_error(entry, reason):
    # model_construct skips ToolsConfig's own import check, to reach the registry's.
    config = ToolsConfig.model_construct(functions=[entry])
    with pytest.raises(ToolLoadError, match="tools.functions entry") as error:
        ToolRegistry.from_config(config)
    assert entry in str(error.value) and reason in str(error.value)


def test_tool_names_must_be_unique():
    config = ToolsConfig(functions=["tools.builtin.calculator:calculate", f"{__name__}:calculate"])
    with pytest.raises(ToolLoadError, match="'calculate' is used by both"):
        ToolRegistry.from_config(config)


def echo(text: str) -> str:
    """Answer with the text given."""
    return text


def test_a_result_over_max_result_chars_is_dropped_for_an_error():
    config = ToolsConfig(functions=[f"{__name__}:echo"], max_result_chars=10)
    registry = ToolRegistry.from_config(config)
    assert run(registry.execute("echo", {"text": "12345678"})).result == "12345678"  # 10 as JSON
    outcome = run(registry.execute("echo", {"text": "x" * 5000}))
    assert (outcome.ok, outcome.error_kind, outcome.result) == (False, "tool_error", None)
    assert "5002 characters" in outcome.error and "tools.max_result_chars" in outcome.error


def test_health_fails_once_the_registry_is_emptied(registry):
    registry.check_health()
    registry._tools.clear()
    with pytest.raises(RuntimeError, match="none of its configured tools"):
        registry.check_health()
