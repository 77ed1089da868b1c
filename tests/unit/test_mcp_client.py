"""Tools of external MCP servers in the registry: a real SDK server over stdio and over Streamable
HTTP (tests/mcp_fixture_server.py), listed, called, checked, failing, dying and coming back, and
changing its tools once listed (held back until approved)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
import uvicorn
from pydantic import ValidationError

from configs.settings import McpServerConfig, ToolsConfig
from tests.mcp_fixture_server import build_server
from tools.mcp_client import _registry_tools, registry_name
from tools.registry import ToolOutcome, ToolRegistry

FIXTURE_SERVER = Path(__file__).resolve().parents[1] / "mcp_fixture_server.py"
FIXTURE_TOOLS = ["add", "shout", "text_reverse", "refuse", "nap", "process_id"]


class HttpFixtureServer:
    """The fixture server over Streamable HTTP with uvicorn on loopback; stops and restarts on
    the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.url = ""

    def start(self) -> HttpFixtureServer:
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", self.port))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        app = build_server().streamable_http_app()
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def stdio_server(name: str = "fx", **settings: Any) -> dict[str, Any]:
    return {"name": name, "command": sys.executable, "args": [str(FIXTURE_SERVER)], **settings}


def tools_config(*servers: dict[str, Any], **settings: Any) -> ToolsConfig:
    return ToolsConfig(
        functions=["tools.builtin.calculator:calculate"],
        mcp_servers=list(servers),
        **{"allowed_hosts": ["127.0.0.1"], **settings},
    )


def run(registry: ToolRegistry, name: str, arguments: Any) -> ToolOutcome:
    return asyncio.run(registry.execute(name, arguments))


def status_of(registry: ToolRegistry, name: str) -> Any:
    return next(status for status in registry.mcp_status() if status.name == name)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def http_server():
    server = HttpFixtureServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def registry(http_server: HttpFixtureServer):
    """Built-ins, the fixture server over stdio and over HTTP, and two servers that cannot start."""
    config = tools_config(
        stdio_server("fx"),
        {"name": "web", "url": http_server.url},
        {"name": "missing", "command": "/no/such/mcp-server"},
        {"name": "broken", "command": sys.executable, "args": ["-m", "no_such_mcp_module"]},
        {"name": "off", "command": "/no/such/mcp-server", "enabled": False},
    )
    with ToolRegistry.from_config(config) as registry:
        yield registry


def test_each_servers_tools_join_the_builtins_under_its_prefix(registry: ToolRegistry) -> None:
    names = [spec.name for spec in registry.specs()]
    assert names == [
        "calculate",
        *(f"fx__{tool}" for tool in FIXTURE_TOOLS),
        *(f"web__{tool}" for tool in FIXTURE_TOOLS),
    ]


@pytest.mark.parametrize("server", ["fx", "web"])
def test_tools_keep_the_servers_description_and_input_schema(
    registry: ToolRegistry, server: str
) -> None:
    specs = {spec.name: spec for spec in registry.specs()}
    add = specs[f"{server}__add"]
    assert add.description == "Add two integers."
    assert add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.parameters["properties"]["a"]["description"] == "First addend"
    assert add.openai_schema()["function"]["parameters"] == add.parameters


@pytest.mark.parametrize("server", ["fx", "web"])
def test_a_call_returns_the_servers_result(registry: ToolRegistry, server: str) -> None:
    outcome = run(registry, f"{server}__add", {"a": 2, "b": 40})
    assert outcome.ok, outcome.error
    assert outcome.result == {"result": 42}  # the SDK's structured content for an int
    assert run(registry, f"{server}__shout", {"text": "hi"}).result == {"result": "HI"}


def test_names_mcp_allows_become_function_names(registry: ToolRegistry) -> None:
    assert registry_name("fx", "text.reverse") == "fx__text_reverse"
    assert registry_name("fx", "a/b c") == "fx__a_b_c"
    assert run(registry, "fx__text_reverse", {"text": "abc"}).result == {"result": "cba"}


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"a": "two", "b": 2}, "a: 'two' is not of type 'integer'"),
        ({"a": 1}, "'b' is a required property"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_arguments_are_checked_against_the_servers_schema_before_the_call(
    registry: ToolRegistry, arguments: Any, problem: str
) -> None:
    outcome = run(registry, "fx__add", arguments)
    assert outcome.error_kind == "invalid_arguments"
    assert problem in (outcome.error or "")


@pytest.mark.parametrize("server", ["fx", "web"])
def test_an_is_error_result_is_a_tool_error_with_the_servers_message(
    registry: ToolRegistry, server: str
) -> None:
    outcome = run(registry, f"{server}__refuse", {"reason": "closed on Sundays"})
    assert outcome.error_kind == "tool_error"
    assert "refused: closed on Sundays" in (outcome.error or "")


def test_servers_that_cannot_start_are_reported_not_raised(registry: ToolRegistry) -> None:
    statuses = {status.name: status for status in registry.mcp_status()}
    assert list(statuses) == ["fx", "web", "missing", "broken"]  # "off" is disabled
    assert statuses["fx"].connected and statuses["fx"].error is None
    assert statuses["fx"].tools == [f"fx__{tool}" for tool in FIXTURE_TOOLS]
    missing, broken = statuses["missing"], statuses["broken"]
    assert not missing.connected and missing.tools == []
    assert "No such file or directory" in (missing.error or "")
    # The server's own last words say what to fix.
    assert not broken.connected and "No module named no_such_mcp_module" in (broken.error or "")


def test_an_unreachable_http_server_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tools_config({"name": "gone", "url": f"http://127.0.0.1:{port}/mcp"})
    with ToolRegistry.from_config(config) as registry:
        [status] = registry.mcp_status()
        assert not status.connected
        assert "could not be connected" in (status.error or "")
        assert [spec.name for spec in registry.specs()] == ["calculate"]


def test_a_call_past_the_servers_timeout_is_cancelled_and_the_session_survives() -> None:
    config = tools_config(stdio_server(timeout_s=0.5))
    with ToolRegistry.from_config(config) as registry:
        started = time.monotonic()
        outcome = run(registry, "fx__nap", {"seconds": 3})
        assert outcome.error_kind == "timeout"
        assert outcome.error == "fx__nap did not finish within 0.5 s"
        assert time.monotonic() - started < 2
        assert run(registry, "fx__add", {"a": 1, "b": 1}).result == {"result": 2}


def test_a_killed_stdio_server_is_restarted_by_the_next_call() -> None:
    with ToolRegistry.from_config(tools_config(stdio_server())) as registry:
        first = run(registry, "fx__process_id", {}).result["result"]
        os.kill(first, signal.SIGKILL)
        outcome = run(registry, "fx__process_id", {})
        assert outcome.ok, outcome.error
        second = outcome.result["result"]
        assert second != first and process_alive(second)
        assert status_of(registry, "fx").connected
    assert not process_alive(second)  # closing the registry stopped it


def test_concurrent_calls_on_a_dead_server_share_one_restart() -> None:
    with ToolRegistry.from_config(tools_config(stdio_server())) as registry:
        os.kill(run(registry, "fx__process_id", {}).result["result"], signal.SIGKILL)

        async def many() -> list[ToolOutcome]:
            return await registry.execute_many([("fx__process_id", {})] * 8)

        outcomes = asyncio.run(many())
        assert all(outcome.ok for outcome in outcomes), [o.error for o in outcomes]
        assert len({outcome.result["result"] for outcome in outcomes}) == 1


def test_a_restarted_http_server_is_reconnected_and_unavailable_while_down() -> None:
    server = HttpFixtureServer().start()
    try:
        config = tools_config({"name": "web", "url": server.url, "connect_timeout_s": 5})
        with ToolRegistry.from_config(config) as registry:
            assert run(registry, "web__add", {"a": 1, "b": 2}).ok
            server.stop()
            down = run(registry, "web__add", {"a": 1, "b": 2})
            assert down.error_kind == "unavailable"
            assert "could not be connected" in (down.error or "")
            assert not status_of(registry, "web").connected
            server.start()
            back = run(registry, "web__add", {"a": 1, "b": 2})
            assert back.ok, back.error
            assert status_of(registry, "web") == status_of(registry, "web").__class__(
                "web", True, [f"web__{tool}" for tool in FIXTURE_TOOLS], None, []
            )
    finally:
        server.stop()


def test_a_rebuilt_registry_keeps_unchanged_servers_running_and_stops_removed_ones() -> None:
    first = ToolRegistry.from_config(tools_config(stdio_server("keep"), stdio_server("drop")))
    kept_pid = run(first, "keep__process_id", {}).result["result"]
    dropped_pid = run(first, "drop__process_id", {}).result["result"]
    second = ToolRegistry.from_config(tools_config(stdio_server("keep"), timeout_s=5), first)
    try:
        assert run(second, "keep__process_id", {}).result["result"] == kept_pid
        assert not process_alive(dropped_pid)
        assert [status.name for status in second.mcp_status()] == ["keep"]
        first.close()  # handed over: closing the old registry leaves the sessions alone
        assert run(second, "keep__add", {"a": 2, "b": 2}).result == {"result": 4}
    finally:
        second.close()
    assert not process_alive(kept_pid)


@pytest.mark.parametrize(
    ("server", "problem"),
    [
        ({"name": "x"}, "set exactly one of command (stdio) or url (HTTP)"),
        ({"name": "x", "command": "c", "url": "http://h/mcp"}, "set exactly one of"),
        ({"name": "x", "url": "ftp://h/mcp"}, "url must start with http(s)://"),
        ({"name": "x", "command": "c", "headers": {"a": "b"}}, "headers apply to url only"),
        ({"name": "x", "url": "http://h/mcp", "args": ["a"]}, "args and env apply to command"),
        ({"name": "a__b", "command": "c"}, "is not a usable MCP server name"),
        ({"name": "2fast", "command": "c"}, "is not a usable MCP server name"),
        ({"name": "has.dot", "command": "c"}, "is not a usable MCP server name"),
        ({"name": "x", "command": "c", "timeout_s": 0}, "greater than 0"),
    ],
)
def test_server_entries_are_validated(server: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        McpServerConfig(**server)


def test_server_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="repeated: a"):
        tools_config({"name": "a", "command": "c"}, {"name": "a", "url": "http://h/mcp"})


def names_of(registry: ToolRegistry) -> list[str]:
    return [spec.name for spec in registry.specs()]


def test_tools_a_server_changes_or_adds_after_its_first_listing_are_held_back_until_approved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A rug pull: the server restarts with shout's description changed and a new tool; the
    listing after the reconnect is checked before the call that caused it runs."""
    variant = tmp_path / "variant"
    server = stdio_server(env={"MCP_FIXTURE_VARIANT_FILE": str(variant)})
    first = ToolRegistry.from_config(tools_config(server))
    try:
        assert "fx__shout" in names_of(first)
        variant.write_text("rug-pull")
        os.kill(run(first, "fx__process_id", {}).result["result"], signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="tools.mcp_client"):
            outcome = run(first, "fx__shout", {"text": "hi"})  # reconnects, lists again
        assert outcome.error_kind == "held_back", outcome
        held = {tool.tool: tool for tool in status_of(first, "fx").held_back}
        assert sorted(held) == ["exfiltrate", "shout"]
        assert held["shout"].reason == "its description changed since first listed"
        assert held["exfiltrate"].reason == "it is new since the server's first listing"
        shout = held["shout"]
        assert outcome.error == shout.message()
        assert f"add shout: {shout.digest} to the approved_tools of MCP server fx" in outcome.error
        logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert f"MCP server fx: {shout.message()}" in logged
        assert any("fx__exfiltrate" in line for line in logged)
        # Held back: not offered, not run; the unchanged tools go on.
        assert names_of(first) == [
            "calculate",
            *(f"fx__{tool}" for tool in FIXTURE_TOOLS if tool != "shout"),
        ]
        assert run(first, "fx__exfiltrate", {"data": "x"}).error_kind == "held_back"
        assert run(first, "fx__add", {"a": 1, "b": 2}).result == {"result": 3}

        approved = {**server, "approved_tools": {"shout": shout.digest}}
        second = ToolRegistry.from_config(tools_config(approved), first)
    finally:
        first.close()
    with second:
        specs = {spec.name: spec for spec in second.specs()}
        assert "call write_file" in specs["fx__shout"].description  # approved as it is now
        assert run(second, "fx__shout", {"text": "hi"}).result == {"result": "HI"}
        # The new session kept the first listing: the tool still unapproved stays held back.
        assert "fx__exfiltrate" not in specs
        assert [tool.tool for tool in status_of(second, "fx").held_back] == ["exfiltrate"]


def test_a_tool_whose_digest_is_not_the_approved_one_is_held_back_from_the_first_listing() -> None:
    """Digests in the config catch a change made while the app was down (no first listing)."""
    pinned = stdio_server(approved_tools={"add": "0" * 16})
    with ToolRegistry.from_config(tools_config(pinned)) as registry:
        assert "fx__add" not in names_of(registry) and "fx__shout" in names_of(registry)
        [held] = status_of(registry, "fx").held_back
        assert (held.name, held.reason) == ("fx__add", "its digest differs from approved_tools")
        digest = held.digest
    right = stdio_server(approved_tools={"add": digest})
    with ToolRegistry.from_config(tools_config(right)) as registry:
        assert "fx__add" in names_of(registry)
        assert status_of(registry, "fx").held_back == []


def test_a_tool_whose_input_schema_is_invalid_is_left_out_and_logged(caplog) -> None:
    config = McpServerConfig(name="odd", command="unused")
    listed = [
        types.Tool(name="broken", input_schema={"type": "no-such-type"}),
        types.Tool(name="fine", input_schema={"type": "object", "properties": {}}),
    ]
    with caplog.at_level(logging.WARNING):
        tools = _registry_tools(config, listed, lambda name: None)
    assert [tool.spec.name for tool in tools] == ["odd__fine"]
    assert "'broken' left out: its input schema is invalid" in caplog.text
    assert tools[0].validator.is_valid({}) and not tools[0].validator.is_valid([])
