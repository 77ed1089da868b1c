"""The tools offered to the model: loaded from config, their arguments checked, run with a deadline.

Adding a tool is writing a typed function with a docstring and listing its ``module:function``
import path in ``tools.functions``; this module derives everything else and needs no edit. The
tools of the MCP servers in ``tools.mcp_servers`` join them (``tools.mcp_client``): those a server
offers at the time, so a tool its latest listing held back is neither offered nor run.
A call never raises: every failure comes back as a ToolOutcome whose ``error_kind`` says whose
fault it was, so the serving code can show it to the model or map it to an HTTP status.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Literal

from jsonschema.exceptions import best_match
from pydantic_core import to_jsonable_python

from configs.settings import ToolsConfig
from tools.errors import ToolHeldBackError, ToolInputError, ToolLoadError, ToolUnavailableError
from tools.mcp_client import McpClient, McpServerStatus
from tools.tool_spec import Tool, ToolSpec, tool_from_function

__all__ = ["ErrorKind", "Tool", "ToolOutcome", "ToolRegistry", "ToolSpec", "tool_from_function"]

logger = logging.getLogger(__name__)

ErrorKind = Literal[
    "unknown_tool", "held_back", "invalid_arguments", "tool_error", "unavailable", "timeout"
]

# Keeps an error naming a long argument value readable.
_MAX_PROBLEM_CHARS = 200


@dataclass
class ToolOutcome:
    """The result of one tool call, or why there is none."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    result: Any = None
    error: str | None = None
    error_kind: ErrorKind | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ToolRegistry:
    """Tools by name, with the tools settings injected into those that ask for ``config``.

    ``tools`` are local functions; ``mcp``'s tools are looked up when used, as its servers offer
    them then. A registry with MCP servers holds their sessions: ``close()`` it (or use it as a
    context manager) when done, or hand it to the next ``from_config`` as ``previous``.
    """

    def __init__(
        self, tools: Iterable[Tool], config: ToolsConfig, mcp: McpClient | None = None
    ) -> None:
        self._config = config
        self._mcp = mcp
        local = list(tools)
        seen: dict[str, Tool] = {}
        for tool in [*local, *(mcp.tools() if mcp is not None else [])]:
            name = tool.spec.name
            if name in seen:
                raise ToolLoadError(
                    f"tool name {name!r} is used by both {_origin(seen[name])} and "
                    f"{_origin(tool)}; tool names must be unique"
                )
            seen[name] = tool
        self._tools = {tool.spec.name: tool for tool in local}

    @classmethod
    def from_config(cls, config: ToolsConfig, previous: ToolRegistry | None = None) -> ToolRegistry:
        """Import every ``tools.functions`` entry and connect every ``tools.mcp_servers`` server.

        Raises ToolLoadError naming a bad entry; a server that cannot be reached is reported by
        ``mcp_status()``, not raised. Blocks while servers connect (each within its
        ``connect_timeout_s``). ``previous`` hands over its sessions with servers whose entry is
        unchanged, and is closed.
        """
        tools = [load_tool(entry) for entry in config.functions]
        previous_mcp = previous._take_mcp() if previous is not None else None
        servers = [server for server in config.mcp_servers if server.enabled]
        if not servers:
            if previous_mcp is not None:
                previous_mcp.close()
            return cls(tools, config)
        mcp = McpClient.connect(servers, previous_mcp, config.allowed_hosts)
        try:
            return cls(tools, config, mcp)
        except ToolLoadError:
            mcp.close()
            raise

    def mcp_status(self) -> list[McpServerStatus]:
        """Each MCP server's state: connected, its tools, its last error."""
        return self._mcp.status() if self._mcp is not None else []

    def check_health(self) -> None:
        """Raise RuntimeError when the registry cannot run calls: closed while in use, or its
        MCP sessions' event loop gone. A server that is merely down is not a broken registry."""
        if not self._tools and self._config.functions:
            raise RuntimeError("the tool registry holds none of its configured tools")
        if self._mcp is not None:
            self._mcp.check_health()

    def close(self) -> None:
        """End the MCP sessions (stdio servers are stopped); idempotent."""
        mcp = self._take_mcp()
        if mcp is not None:
            mcp.close()

    def __enter__(self) -> ToolRegistry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _take_mcp(self) -> McpClient | None:
        mcp, self._mcp = self._mcp, None
        return mcp

    def tools(self) -> list[Tool]:
        """The local tools, then the tools the MCP servers offer now."""
        served = self._mcp.tools() if self._mcp is not None else []
        return [*self._tools.values(), *(t for t in served if t.spec.name not in self._tools)]

    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self.tools()]

    def get(self, name: str) -> Tool | None:
        return next((tool for tool in self.tools() if tool.spec.name == name), None)

    async def execute(self, name: str, arguments: Any) -> ToolOutcome:
        """Validate and run one call within ``timeout_s``, its result within ``max_result_chars``;
        failures become outcomes, never raise."""
        outcome = await self._execute(name, arguments)
        if not outcome.ok:
            logger.warning("tool call %s failed (%s): %s", name, outcome.error_kind, outcome.error)
        return outcome

    async def execute_many(self, calls: list[tuple[str, Any]]) -> list[ToolOutcome]:
        """Run several calls concurrently; outcomes come back in the order of ``calls``."""
        return list(await asyncio.gather(*(self.execute(name, args) for name, args in calls)))

    async def _execute(self, name: str, arguments: Any) -> ToolOutcome:
        shown = arguments if isinstance(arguments, dict) else {}
        tool = self.get(name)
        if tool is None:
            held = self._mcp.held_back(name) if self._mcp is not None else None
            if held is not None:
                return _failure(name, shown, "held_back", held.message())
            known = ", ".join(sorted(spec.name for spec in self.specs())) or "none"
            return _failure(name, shown, "unknown_tool", f"unknown tool {name!r}; known: {known}")
        if not isinstance(arguments, dict):
            return _failure(
                name,
                shown,
                "invalid_arguments",
                f"arguments of {name} must be a JSON object, got {type(arguments).__name__}",
            )
        problems = _schema_problems(tool, arguments)
        if problems:
            return _failure(
                name, arguments, "invalid_arguments", f"invalid arguments for {name}: {problems}"
            )

        injected = {"config": self._config} if tool.takes_config else {}
        call = functools.partial(tool.function, **arguments, **injected)
        deadline = tool.timeout_s or self._config.timeout_s
        # A thread cannot be killed: a tool past its deadline finishes unobserved. A coroutine
        # (an MCP server's tool) is cancelled.
        running = (
            _capture_async(call())
            if inspect.iscoroutinefunction(tool.function)
            else asyncio.to_thread(_capture, call)
        )
        try:
            result, error = await asyncio.wait_for(running, timeout=deadline)
        except TimeoutError:
            return _failure(
                name, arguments, "timeout", f"{name} did not finish within {deadline:g} s"
            )
        if isinstance(error, ToolInputError):
            return _failure(name, arguments, "tool_error", str(error))
        if isinstance(error, ToolHeldBackError):
            return _failure(name, arguments, "held_back", str(error))
        if isinstance(error, ToolUnavailableError):
            return _failure(name, arguments, "unavailable", str(error))
        if error is not None:
            logger.debug("tool %s raised", name, exc_info=error)
            return _failure(
                name, arguments, "tool_error", f"{name} failed: {type(error).__name__}: {error}"
            )
        try:
            result, size = _jsonable(result)
        except (TypeError, ValueError) as problem:
            return _failure(
                name, arguments, "tool_error", f"{name} returned a non-JSON result: {problem}"
            )
        if size > self._config.max_result_chars:
            return _failure(
                name,
                arguments,
                "tool_error",
                f"{name} returned {size} characters of JSON; the limit is "
                f"{self._config.max_result_chars} (tools.max_result_chars): the result was dropped",
            )
        return ToolOutcome(name=name, arguments=arguments, ok=True, result=result)


def load_tool(entry: str) -> Tool:
    """Import one ``module:function`` entry as a tool; the error names the entry."""
    module_name, _, attribute = entry.partition(":")
    if not module_name or not attribute:
        raise ToolLoadError(f"tools.functions entry {entry!r} is not 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ToolLoadError(
            f"tools.functions entry {entry!r}: cannot import {module_name!r}: {error}"
        ) from error
    function = getattr(module, attribute, None)
    if function is None:
        raise ToolLoadError(
            f"tools.functions entry {entry!r}: module {module_name!r} has no {attribute!r}"
        )
    if not callable(function):
        raise ToolLoadError(f"tools.functions entry {entry!r} is not callable")
    try:
        return tool_from_function(function)
    except ToolLoadError as error:
        raise ToolLoadError(f"tools.functions entry {entry!r}: {error}") from error


def _capture(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """Run ``call``, returning its exception instead of raising it: a TimeoutError the tool
    raises must not read as the deadline, and not even SystemExit may leave a tool."""
    try:
        return call(), None
    except BaseException as error:
        return None, error


async def _capture_async(call: Awaitable[Any]) -> tuple[Any, BaseException | None]:
    """``_capture`` for a coroutine tool; cancellation (the deadline) still goes through."""
    try:
        return await call, None
    except Exception as error:
        return None, error


def _origin(tool: Tool) -> str:
    return f"{tool.function.__module__}:{tool.function.__qualname__}"


def _failure(name: str, arguments: dict[str, Any], kind: ErrorKind, error: str) -> ToolOutcome:
    return ToolOutcome(name=name, arguments=arguments, ok=False, error=error, error_kind=kind)


def _schema_problems(tool: Tool, arguments: dict[str, Any]) -> str:
    """Every schema violation, each prefixed by the field it concerns."""
    problems = []
    # best_match descends into anyOf branches to the error that explains the most.
    errors = [best_match([error]) for error in tool.validator.iter_errors(arguments)]
    for error in sorted(errors, key=lambda e: [str(part) for part in e.absolute_path]):
        field = ".".join(str(part) for part in error.absolute_path)
        message = error.message
        if len(message) > _MAX_PROBLEM_CHARS:
            message = message[: _MAX_PROBLEM_CHARS - 3] + "..."
        problems.append(f"{field}: {message}" if field else message)
    return "; ".join(problems)


def _jsonable(value: Any) -> tuple[Any, int]:
    """The JSON form of a tool result and its length as JSON text; raises if it has none
    (objects, NaN, giant integers)."""
    jsonable = to_jsonable_python(value)
    return jsonable, len(json.dumps(jsonable, allow_nan=False, ensure_ascii=False))
