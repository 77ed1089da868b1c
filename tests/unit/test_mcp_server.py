"""The ingress's /mcp endpoint, spoken to by the official MCP client over real HTTP (no Ray)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import mcp_types as types
import pytest
import uvicorn
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from serve_app.mcp_server import mount_mcp

T = TypeVar("T")

ADD_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
    "additionalProperties": False,
}
DIVIDE_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
    "additionalProperties": False,
}


class FakeBackends:
    """The two Backends methods /mcp uses, answering the way the ToolExecutor does."""

    specs = [
        {"name": "add", "description": "Add two integers.", "parameters": ADD_SCHEMA},
        {"name": "divide", "description": "Divide a by b.", "parameters": DIVIDE_SCHEMA},
    ]

    def __init__(self) -> None:
        self.spec_requests = 0

    async def tool_specs(self) -> list[dict[str, Any]]:
        self.spec_requests += 1
        return self.specs

    async def execute_tool(self, name: str, arguments: Any) -> dict[str, Any]:
        if name == "crash":
            raise RuntimeError("ToolExecutor replica died")
        spec = next((spec for spec in self.specs if spec["name"] == name), None)
        if spec is None:
            return _outcome(name, arguments, error=f"unknown tool {name!r}", kind="unknown_tool")
        problem = best_match(Draft202012Validator(spec["parameters"]).iter_errors(arguments))
        if problem is not None:
            return _outcome(
                name, arguments, error=f"invalid: {problem.message}", kind="invalid_arguments"
            )
        if name == "add":
            return _outcome(name, arguments, result=arguments["a"] + arguments["b"])
        if arguments["b"] == 0:
            return _outcome(name, arguments, error="cannot divide by zero", kind="tool_error")
        return _outcome(name, arguments, result={"quotient": arguments["a"] / arguments["b"]})


def _outcome(
    name: str, arguments: Any, result: Any = None, error: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "arguments": arguments,
        "ok": error is None,
        "result": result,
        "error": error,
        "error_kind": kind,
    }


@pytest.fixture(scope="module")
def app_events() -> list[str]:
    return []


@pytest.fixture(scope="module")
def backends() -> FakeBackends:
    return FakeBackends()


@pytest.fixture(scope="module")
def mcp_url(backends: FakeBackends, app_events: list[str]) -> Iterator[str]:
    """An app with a lifespan of its own and /mcp mounted, served by uvicorn on a free port."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app_events.append("started")
        yield

    api = FastAPI(version="9.9.9", lifespan=lifespan)
    mount_mcp(api, backends)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(api, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _with_session(url: str, use: Callable[[ClientSession], Awaitable[T]]) -> T:
    """Connect the official client, initialize, and run ``use`` with the session."""

    async def main() -> T:
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            return await use(s)

    return asyncio.run(main())


def _call(url: str, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
    return _with_session(url, lambda session: session.call_tool(name, arguments))


def _text(result: types.CallToolResult) -> str:
    [content] = result.content
    assert isinstance(content, types.TextContent)
    return content.text


def test_initialize_names_the_server_and_offers_tools(mcp_url: str) -> None:
    async def initialize(session: ClientSession) -> types.InitializeResult | None:
        return session.initialize_result

    result = _with_session(mcp_url, initialize)
    assert result is not None
    assert (result.server_info.name, result.server_info.version) == ("mcp-tune", "9.9.9")
    assert result.capabilities.tools is not None


def test_list_tools_gives_names_descriptions_and_input_schemas(mcp_url: str) -> None:
    listed = _with_session(mcp_url, lambda session: session.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    assert list(tools) == ["add", "divide"]
    assert tools["add"].description == "Add two integers."
    assert tools["add"].input_schema == ADD_SCHEMA
    assert tools["divide"].input_schema == DIVIDE_SCHEMA


def test_call_returns_the_result_as_json_text(mcp_url: str) -> None:
    result = _call(mcp_url, "add", {"a": 2, "b": 40})
    assert not result.is_error
    assert _text(result) == "42"
    assert result.structured_content is None  # only an object may be structured content


def test_object_results_are_also_structured_content(mcp_url: str) -> None:
    result = _call(mcp_url, "divide", {"a": 1, "b": 4})
    assert not result.is_error
    assert _text(result) == '{"quotient": 0.25}'
    assert result.structured_content == {"quotient": 0.25}


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("divide", {"a": 1, "b": 0}, "cannot divide by zero"),
        ("add", {"a": 1, "b": "two"}, "invalid: 'two' is not of type 'integer'"),
        ("nope", {}, "unknown tool 'nope'"),
        ("crash", {}, "tool crash could not be run: ToolExecutor replica died"),
    ],
    ids=["tool_error", "invalid_arguments", "unknown_tool", "backend_down"],
)
def test_failed_calls_are_error_results_with_the_message(
    mcp_url: str, name: str, arguments: dict[str, Any], message: str
) -> None:
    result = _call(mcp_url, name, arguments)
    assert result.is_error
    assert _text(result) == message


def test_the_default_client_calls_tools_without_listing_them_again(
    mcp_url: str, backends: FakeBackends
) -> None:
    """mcp.Client speaks the 2026-07-28 revision by default: one POST per call, no handshake."""

    async def main() -> tuple[str | None, types.CallToolResult, int]:
        async with Client(mcp_url) as client:
            await client.list_tools()
            listed = backends.spec_requests
            result = await client.call_tool("add", {"a": 1, "b": 2})
            return client.session.protocol_version, result, backends.spec_requests - listed

    protocol_version, result, extra_listings = asyncio.run(main())
    assert protocol_version == "2026-07-28"
    assert _text(result) == "3"
    assert extra_listings == 0


def _post_tools_list(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """A bare tools/list POST: no initialize, no session id, redirects not followed."""
    return httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
            **(headers or {}),
        },
        follow_redirects=False,
    )


def test_any_replica_answers_without_a_session_or_redirect(mcp_url: str) -> None:
    """No Mcp-Session-Id is handed out or needed, so replicas behind Serve are interchangeable."""
    response = _post_tools_list(mcp_url)
    assert response.status_code == 200
    assert "mcp-session-id" not in response.headers
    assert [tool["name"] for tool in response.json()["result"]["tools"]] == ["add", "divide"]


def test_requests_by_a_cluster_host_name_are_served(mcp_url: str) -> None:
    """Serve's proxy keeps the client's Host; a cluster is reached by names other than localhost."""
    response = _post_tools_list(mcp_url, {"Host": "ray-head.example:8000"})
    assert response.status_code == 200


def test_the_apps_own_lifespan_still_runs(mcp_url: str, app_events: list[str]) -> None:
    assert app_events == ["started"]
