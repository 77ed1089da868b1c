"""The ToolExecutor's tools offered over MCP (Streamable HTTP) at ``/mcp`` on the ingress."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
from fastapi import FastAPI
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from serve_app.backends import Backends

logger = logging.getLogger("ray.serve")

MCP_PATH = "/mcp"

# See mount_mcp for why the Host/Origin (DNS-rebinding) check is off.
TRANSPORT_SECURITY = TransportSecuritySettings(enable_dns_rebinding_protection=False)


def build_mcp_server(backends: Backends, version: str = "") -> Server:
    """An MCP server whose tools are the ToolExecutor's, listed and run through ``backends``."""

    async def list_tools(
        ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        specs = await backends.tool_specs()
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=spec["name"],
                    description=spec["description"],
                    input_schema=spec["parameters"],
                )
                for spec in specs
            ]
        )

    async def call_tool(
        ctx: ServerRequestContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        # Failures come back as error results, which the calling model can read and act on.
        try:
            outcome = await backends.execute_tool(params.name, params.arguments or {})
        except Exception as error:
            logger.exception("MCP call of tool %s could not reach the ToolExecutor", params.name)
            return _error_result(f"tool {params.name} could not be run: {error}")
        if not outcome["ok"]:
            return _error_result(outcome["error"] or f"tool {params.name}: {outcome['error_kind']}")
        result = outcome["result"]
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(result, ensure_ascii=False))],
            # Protocol versions before 2026-07-28 allow only an object here. No tool declares an
            # outputSchema, so clients have nothing to validate it against.
            structured_content=result if isinstance(result, dict) else None,
        )

    return Server(
        "mcp-tune",
        version=version,
        instructions="Tools of mcp-tune: its built-in tools and those of the MCP servers it uses.",
        # On the 2026-07-28 wire the SDK checks a call's Mcp-Param-* headers against the tool's
        # x-mcp-header schema annotations, fetching the schema through list_tools: a second
        # ToolExecutor hop per call. Nothing on our side routes by those headers, so skip it.
        get_tool_input_schema=lambda name: None,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def mount_mcp(api: FastAPI, backends: Backends) -> None:
    """Serve MCP at exactly ``/mcp`` on ``api``, with the session manager running in its lifespan.

    Stateless: every POST is answered on its own, so any ingress replica can take any request.
    Answers are plain JSON rather than SSE streams, since no tool reports progress.

    DNS-rebinding protection (the SDK's Host/Origin allow list) is off. It guards a server bound
    to loopback, but the ingress cannot know the names it is reached by: serve_config.yaml binds
    127.0.0.1, configs/serve_gpu.yaml binds 0.0.0.0 under whatever names the cluster has, and
    Serve's proxy passes the client's Host header on. A loopback-only list would answer 421 to
    every remote client of a cluster, and the REST routes beside /mcp (/tools/execute among them)
    have no such check either; the SDK too leaves it off for servers not bound to loopback. POSTs
    must still be application/json. Expose the port only to trusted clients, or put an
    authenticating proxy (or a TrustedHostMiddleware for the whole app) in front.
    """
    manager = StreamableHTTPSessionManager(
        app=build_mcp_server(backends, api.version),
        json_response=True,
        stateless=True,
        security_settings=TRANSPORT_SECURITY,
    )
    # A Route, not a Mount: a Mount would redirect POST /mcp to /mcp/.
    api.add_route(MCP_PATH, StreamableHTTPASGIApp(manager), include_in_schema=False)

    app_lifespan = api.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with manager.run(), app_lifespan(app) as state:
            yield state

    api.router.lifespan_context = lifespan
