"""A small MCP server (official SDK 2.x MCPServer) for the MCP client tests.

``python tests/mcp_fixture_server.py`` serves it over stdio; tests serve ``build_server()`` over
Streamable HTTP themselves. ``process_id`` lets a test kill the process it talks to.
"""

from __future__ import annotations

import os
import time
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field


def build_server() -> MCPServer:
    server = MCPServer("fixture", version="1.0.0", log_level="WARNING")

    @server.tool()
    def add(
        a: Annotated[int, Field(description="First addend")],
        b: Annotated[int, Field(description="Second addend")],
    ) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    @server.tool(name="text.reverse")
    def reverse(text: str) -> str:
        """Reverse a text (a dotted name, as MCP allows)."""
        return text[::-1]

    @server.tool()
    def refuse(reason: str) -> str:
        """Always fail, with the reason given."""
        raise ToolError(f"refused: {reason}")

    @server.tool()
    def nap(seconds: float) -> str:
        """Sleep, then answer; stands in for a slow tool."""
        time.sleep(seconds)
        return "awake"

    @server.tool()
    def process_id() -> int:
        """The server's process id."""
        return os.getpid()

    return server


if __name__ == "__main__":
    build_server().run()
