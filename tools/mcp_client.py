"""Tools of external MCP servers as registry tools, over one long-lived session per server.

Each enabled server of ``tools.mcp_servers`` is started (stdio) or reached (Streamable HTTP) once;
its tools are listed and offered as ``<server>__<tool>`` with the server's description and input
schema, so the registry checks their arguments like a built-in's. A call goes through the session;
an ``isError`` result becomes a ToolInputError (``tool_error``), a lost connection is reopened and
the call sent once more, and only then is the server ``unavailable``. A server that cannot be
started is recorded in ``status()``, never raised.

A tool's description and schema are what the model obeys, so a server must not change them
unnoticed (a "rug pull"). Every listing (the first, and the one after each reconnect) is checked:
a tool whose description or schema differs from its first listing, or that is new since then, is
held back (not offered, not run) and logged with its digest until ``approved_tools`` names it with
that digest; a tool gone from the listing is simply gone.

The sessions live on an event loop of their own in a daemon thread, so any caller can use them: a
Serve replica's loop, the dataset generator's ``asyncio.run``, or plain sync code. The SDK is
anyio-based and its cancel scopes must be left in the task that entered them, so each session's
context managers are entered and exited by one owner task; calls from other tasks only send
requests on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from configs.settings import PROJECT_ROOT, McpServerConfig
from tools.errors import ToolHeldBackError, ToolInputError, ToolUnavailableError
from tools.net_guard import async_request_hook, check_url
from tools.tool_spec import Tool, ToolSpec, schema_problem, schema_validator

__all__ = ["HeldTool", "McpClient", "McpServerStatus", "registry_name", "tool_digest"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

SEPARATOR = "__"
# OpenAI and the chat template take function names of these characters, at most this long.
_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME_CHARS = 64
_MAX_LIST_PAGES = 100
# A session that does not wind down in this time is cancelled (stdio needs up to ~6 s to kill).
_CLOSE_TIMEOUT_S = 10.0
_STDERR_TAIL_LINES = 5
_DIGEST_CHARS = 16


@dataclass(frozen=True)
class HeldTool:
    """A tool of a server that is not offered until ``approved_tools`` names it with ``digest``."""

    server: str
    tool: str  # the server's own name: the key in approved_tools
    name: str  # the registry's name
    digest: str
    reason: str

    def message(self) -> str:
        return (
            f"tool {self.name} of MCP server {self.server} is held back: {self.reason}; to "
            f"approve it, add {self.tool}: {self.digest} to the approved_tools of MCP server "
            f"{self.server} (tools.mcp_servers)"
        )


@dataclass(frozen=True)
class McpServerStatus:
    """What GET /status shows of one server."""

    name: str
    connected: bool
    tools: list[str]
    error: str | None
    held_back: list[HeldTool]


def registry_name(server: str, tool: str) -> str:
    """The registry's name of ``tool`` of ``server``: characters a function name cannot hold
    (MCP allows ``.`` and ``/``) become ``_``."""
    return f"{server}{SEPARATOR}{_NAME_CHARACTERS.sub('_', tool)}"


class McpClient:
    """Sessions with the configured MCP servers, and their tools as registry tools."""

    def __init__(self, loop: _LoopThread, sessions: list[_Session]) -> None:
        self._loop: _LoopThread | None = loop
        self._sessions = sessions

    @classmethod
    def connect(
        cls,
        configs: Sequence[McpServerConfig],
        previous: McpClient | None = None,
        allowed_hosts: Sequence[str] = (),
    ) -> McpClient:
        """Connect every enabled server, in parallel, each within its ``connect_timeout_s``.

        An HTTP server's URL (and every redirect) must lead to a public address or one in
        ``allowed_hosts`` (``tools.net_guard``).

        ``previous`` hands over its sessions with servers whose entry is unchanged (they keep
        running); it is closed otherwise, and unusable afterwards.
        """
        loop = previous._take_loop() if previous is not None else None
        kept = {session.config.name: session for session in previous._sessions} if previous else {}
        # A new session of a server keeps the first listing its old one saw: held-back tools stay
        # held when the entry changes (e.g. one of them is approved).
        first_listings = {name: session.first_listing for name, session in kept.items()}
        sessions = []
        for config in configs:
            if not config.enabled:
                continue
            reused = kept.get(config.name)
            # A server that never started is tried again: a config change is the moment to.
            allowed = list(allowed_hosts)
            if (
                reused is not None
                and reused.config == config
                and reused.allowed_hosts == allowed
                and reused.tools
            ):
                del kept[config.name]
                sessions.append(reused)
            else:
                sessions.append(_Session(config, allowed, first_listings.get(config.name)))
        loop = loop or _LoopThread()
        starting = [session for session in sessions if not session.tools]
        loop.run(_gather(*(session.close() for session in kept.values())))
        loop.run(_gather(*(session.start(loop) for session in starting)))
        return cls(loop, sessions)

    def tools(self) -> list[Tool]:
        """The tools offered now (the next listing may hold some back)."""
        return [tool for session in self._sessions for tool in session.tools]

    def held_back(self, name: str) -> HeldTool | None:
        """Why the tool of this registry name is held back; None if it is not."""
        held = (tool for session in self._sessions for tool in session.held.values())
        return next((tool for tool in held if tool.name == name), None)

    def status(self) -> list[McpServerStatus]:
        return [session.status() for session in self._sessions]

    def check_health(self) -> None:
        """Raise RuntimeError when the thread every session lives in has died."""
        if self._loop is None or not self._loop.alive():
            raise RuntimeError("the MCP client's event loop is not running")

    def close(self) -> None:
        """End every session (stdio servers are stopped); idempotent."""
        loop = self._take_loop()
        if loop is not None:
            loop.run(_gather(*(session.close() for session in self._sessions)))
            loop.stop()

    def _take_loop(self) -> _LoopThread | None:
        loop, self._loop = self._loop, None
        return loop


class _Session:
    """One server: its session, opened and closed by an owner task, its tools, its last error."""

    def __init__(
        self,
        config: McpServerConfig,
        allowed_hosts: list[str],
        first_listing: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.config = config
        self.allowed_hosts = allowed_hosts
        self.tools: list[Tool] = []
        self.held: dict[str, HeldTool] = {}
        # Each tool's fingerprint as first listed (or last approved); None before any listing.
        self.first_listing = first_listing
        self.error: str | None = None
        self._loop_thread: _LoopThread | None = None
        self._client: Client | None = None
        # The task that owns the session; it ends with why the session ended, if not asked to.
        self._owner: asyncio.Task[str | None] | None = None
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()

    def status(self) -> McpServerStatus:
        tools = [tool.spec.name for tool in self.tools]
        held = list(self.held.values())
        return McpServerStatus(self.config.name, self._open(), tools, self.error, held)

    async def start(self, loop: _LoopThread) -> None:
        """Connect and list the tools; a failure is recorded in ``error``, not raised."""
        self._loop_thread = loop
        try:
            async with self._lock:
                digests = await self._connect()
        except ToolUnavailableError:
            return
        logger.info(
            "MCP server %s: connected (%s), tools %s, digests %s",
            self.config.name,
            _describe_transport(self.config),
            [tool.spec.name for tool in self.tools],
            digests,
        )

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """Call ``tool``, reconnecting once if the connection turns out lost; its result's JSON."""
        reason = None
        for attempt in (1, 2):
            client = await self._connected()
            if tool in self.held:  # the listing after a reconnect held it back
                raise ToolHeldBackError(self.held[tool].message())
            try:
                result = await client.call_tool(tool, arguments)
            except Exception as error:
                if self._open(client) and not _connection_closed(error):
                    if isinstance(error, MCPError):
                        raise ToolInputError(
                            f"MCP server {self.config.name} refused the call of {tool}: "
                            f"{error.message}"
                        ) from error
                    raise
                reason = await self._drop(client, _describe(error))
                if attempt == 1:
                    logger.warning(
                        "MCP server %s: connection lost (%s); reconnecting",
                        self.config.name,
                        reason,
                    )
                continue
            if result.is_error:
                raise ToolInputError(_text(result) or f"{tool} failed without saying why")
            return _value(result)
        raise ToolUnavailableError(
            f"MCP server {self.config.name} lost the connection again after reconnecting: {reason}"
        )

    async def close(self) -> None:
        async with self._lock:
            if self._client is not None:
                await self._drop(self._client, None)

    def _open(self, client: Client | None = None) -> bool:
        """Whether the session (``client``'s, if given) is still open as far as we know."""
        alive = self._client is not None and self._owner is not None and not self._owner.done()
        return alive and (client is None or client is self._client)

    def _caller(self) -> Callable[[str], Callable[..., Awaitable[Any]]]:
        loop = self._loop_thread
        assert loop is not None

        def caller(tool: str) -> Callable[..., Awaitable[Any]]:
            async def call(**arguments: Any) -> Any:
                return await loop.run_async(self.call(tool, arguments))

            return call

        return caller

    async def _connected(self) -> Client:
        async with self._lock:
            if not self._open():
                if self._client is not None:
                    await self._drop(self._client, "the session ended")
                await self._connect()
            assert self._client is not None
            return self._client

    async def _connect(self) -> dict[str, str]:
        """Open a session in an owner task and take in its listing (``_review``); the digest of
        each tool listed. Hold the lock."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[tuple[Client, list[types.Tool]]] = loop.create_future()
        stop = asyncio.Event()
        owner = asyncio.create_task(self._own(ready, stop), name=f"mcp-{self.config.name}")
        try:
            client, listed = await asyncio.wait_for(ready, self.config.connect_timeout_s)
        except BaseException as error:
            owner.cancel()
            await asyncio.gather(owner, return_exceptions=True)
            if isinstance(error, TimeoutError):
                reason = f"no answer within {self.config.connect_timeout_s:g} s"
            elif isinstance(error, Exception):
                reason = str(error)
            else:
                raise
            self.error = (
                f"MCP server {self.config.name} ({_describe_transport(self.config)}) could not "
                f"be connected: {reason}"
            )
            logger.warning("%s", self.error)
            raise ToolUnavailableError(self.error) from None
        self._client, self._owner, self._stop, self.error = client, owner, stop, None
        approved, digests = self._review(listed)
        self.tools = _registry_tools(self.config, approved, self._caller())
        return digests

    def _review(self, listed: list[types.Tool]) -> tuple[list[types.Tool], dict[str, str]]:
        """The listed tools that may be offered, and every listed tool's digest; the others are
        held back (``held``), each logged once.

        A tool named in ``approved_tools`` must have that digest; any other must look as it did
        in the first listing, and the first listing itself is trusted.
        """
        first = self.first_listing is None
        baseline = dict(self.first_listing or {})
        approved, held, digests = [], {}, {}
        for tool in listed:
            fingerprint = _fingerprint(tool)
            digest = digests[tool.name] = tool_digest(fingerprint)
            pinned = self.config.approved_tools.get(tool.name)
            if pinned is not None:
                reason = None if pinned == digest else "its digest differs from approved_tools"
            elif tool.name in baseline:
                before = baseline[tool.name]
                changed = [key for key in fingerprint if fingerprint[key] != before.get(key)]
                reason = f"its {', '.join(changed)} changed since first listed" if changed else None
            else:
                reason = None if first else "it is new since the server's first listing"
            if reason is None:
                approved.append(tool)
                baseline[tool.name] = fingerprint
                continue
            name = registry_name(self.config.name, tool.name)
            held[tool.name] = HeldTool(self.config.name, tool.name, name, digest, reason)
            if self.held.get(tool.name) != held[tool.name]:
                logger.warning("MCP server %s: %s", self.config.name, held[tool.name].message())
        self.first_listing, self.held = baseline, held
        return approved, digests

    async def _own(
        self,
        ready: asyncio.Future[tuple[Client, list[types.Tool]]],
        stop: asyncio.Event,
    ) -> str | None:
        """Enter the transport and session, hand the session out, wait for ``stop``, leave them;
        why the session ended, when it was not asked to."""
        stderr = _StderrLog(self.config.name) if self.config.command is not None else None
        try:
            transport = _transport(self.config, stderr, self.allowed_hosts)
            async with Client(transport, cache=None) as client:
                listed = await _list_tools(client)
                if not ready.done():
                    ready.set_result((client, listed))
                await stop.wait()
        except Exception as error:
            if stderr is not None:
                stderr.close()  # lets the reader take in the last lines before the tail is read
            message = _describe(error) + (stderr.tail() if stderr is not None else "")
            if not ready.done():
                ready.set_exception(RuntimeError(message))
                return None
            logger.warning("MCP server %s: session ended: %s", self.config.name, message)
            return message
        finally:
            if stderr is not None:
                stderr.close()
        return None

    async def _drop(self, client: Client, reason: str | None) -> str | None:
        """Close ``client``'s session if it is still the current one; why it was lost: the
        owner's account if it has one, else ``reason`` (None: closed on purpose)."""
        owner = self._owner
        if client is not self._client or owner is None:
            return reason
        self._client = None
        self._stop.set()
        try:
            ended = await asyncio.wait_for(asyncio.shield(owner), _CLOSE_TIMEOUT_S)
        except TimeoutError:
            owner.cancel()
            ended = None
            await asyncio.gather(owner, return_exceptions=True)
        if reason is not None:
            reason = ended or reason
            if self._client is None:  # no other call has reconnected meanwhile
                self.error = reason
        return reason


class _LoopThread:
    """An event loop in a daemon thread of its own, where every session lives."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-client")
        self._thread.daemon = True
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` there and wait for it (from sync code, never from this loop)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def run_async(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` there; cancelling the caller cancels it."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    def alive(self) -> bool:
        return self._thread.is_alive() and self._loop.is_running()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_CLOSE_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()


class _StderrLog:
    """A stdio server's stderr: logged line by line under its name, the last lines kept so that
    a failed start can say why (``No module named ...``)."""

    def __init__(self, server: str) -> None:
        read_end, write_end = os.pipe()
        self.file: TextIO = open(write_end, "w")  # noqa: SIM115 (the child writes while it runs)
        self._server = server
        self._lines: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
        self._reader = threading.Thread(target=self._pump, args=(read_end,), daemon=True)
        self._reader.start()

    def _pump(self, read_end: int) -> None:
        with open(read_end, encoding="utf-8", errors="replace") as stream:
            for line in stream:
                if line.strip():
                    self._lines.append(line.rstrip())
                    logger.info("MCP server %s stderr: %s", self._server, line.rstrip())

    def close(self) -> None:
        """Close our end; the reader drains what the (exited) server wrote, then stops."""
        if not self.file.closed:
            self.file.close()
            self._reader.join(timeout=1.0)

    def tail(self) -> str:
        return f"; its stderr ends: {' | '.join(self._lines)}" if self._lines else ""


def _transport(
    config: McpServerConfig, stderr: _StderrLog | None, allowed_hosts: list[str]
) -> AbstractAsyncContextManager[Any]:
    if config.command is not None:
        assert stderr is not None
        parameters = StdioServerParameters(
            command=config.command,
            args=config.args,
            env={key: os.path.expandvars(value) for key, value in config.env.items()},
            # Relative paths in args mean the same as everywhere in the config.
            cwd=PROJECT_ROOT,
        )
        return stdio_client(parameters, errlog=stderr.file)
    assert config.url is not None
    return _http_transport(config, allowed_hosts)


@asynccontextmanager
async def _http_transport(config: McpServerConfig, allowed_hosts: list[str]) -> AsyncIterator[Any]:
    headers = {key: os.path.expandvars(value) for key, value in config.headers.items()}
    # Reads are bounded by each call's deadline (the registry cancels the call), not here.
    timeout = httpx2.Timeout(config.connect_timeout_s, read=None)
    assert config.url is not None
    # Refused before any connection: the message names the address and the setting.
    await asyncio.to_thread(check_url, config.url, allowed_hosts)
    hooks = {"request": [async_request_hook(allowed_hosts)]}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout, event_hooks=hooks) as http,
        streamable_http_client(config.url, http_client=http) as streams,
    ):
        yield streams


def _fingerprint(tool: types.Tool) -> dict[str, Any]:
    """What the model is told about a tool and what its arguments are checked against."""
    return {"title": tool.title, "description": tool.description, "input schema": tool.input_schema}


def tool_digest(fingerprint: dict[str, Any]) -> str:
    """A short sha256 of a tool's fingerprint, as ``approved_tools`` holds it."""
    text = json.dumps(fingerprint, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]


async def _list_tools(client: Client) -> list[types.Tool]:
    listed: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(_MAX_LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        listed.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return listed


def _registry_tools(
    config: McpServerConfig,
    listed: list[types.Tool],
    caller: Callable[[str], Callable[..., Awaitable[Any]]],
) -> list[Tool]:
    """The listed tools as registry tools; one that cannot be offered is logged and left out."""
    tools: dict[str, Tool] = {}
    for mcp_tool in listed:
        name = registry_name(config.name, mcp_tool.name)
        schema = dict(mcp_tool.input_schema)
        problem = schema_problem(schema)
        if problem is not None:
            problem = f"its input schema is invalid: {problem}"
        if len(name) > _MAX_NAME_CHARS:
            problem = f"{name!r} is longer than {_MAX_NAME_CHARS} characters"
        elif name in tools:
            problem = f"{name!r} is also the name of another of its tools"
        if problem is not None:
            logger.warning(
                "MCP server %s: tool %r left out: %s", config.name, mcp_tool.name, problem
            )
            continue
        description = (
            mcp_tool.description or mcp_tool.title or f"{mcp_tool.name} of MCP server {config.name}"
        )
        tools[name] = Tool(
            spec=ToolSpec(name=name, description=description, parameters=schema),
            function=caller(mcp_tool.name),
            takes_config=False,
            validator=schema_validator(schema),
            timeout_s=config.timeout_s,
            capabilities=frozenset(config.tool_capabilities),
        )
    return list(tools.values())


def _value(result: types.CallToolResult) -> Any:
    """A result's JSON: its structured content, else its text, else its content blocks."""
    if result.structured_content is not None:
        return result.structured_content
    if all(isinstance(block, types.TextContent) for block in result.content):
        return _text(result)
    return [
        block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content
    ]


def _text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def _connection_closed(error: Exception) -> bool:
    return isinstance(error, MCPError) and error.code == types.CONNECTION_CLOSED


def _describe(error: BaseException) -> str:
    """One line for an error, looking through the task groups anyio wraps errors in."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in error.exceptions)
    if isinstance(error, MCPError):
        return error.message
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _describe_transport(config: McpServerConfig) -> str:
    if config.command is not None:
        return "stdio: " + " ".join([config.command, *config.args])
    return f"Streamable HTTP: {config.url}"


async def _gather(*coroutines: Awaitable[Any]) -> None:
    await asyncio.gather(*coroutines)
