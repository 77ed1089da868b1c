"""Which tools a chat may offer and run: those whose capabilities ``tools.chat_capabilities``
enables (``network`` aside for the ``tools.chat_network_tools``), narrowed to the request's
``allowed_tools``. The tool loop runs no other tool.

``/tools/execute``, ``/mcp`` and ``/v1`` (which runs no tools) are not chats and are not limited.
"""

from __future__ import annotations

from typing import Any

from configs.settings import ToolsConfig


class ToolNotAllowedError(ValueError):
    """``allowed_tools`` names a tool that is not there or that chats may not use (400)."""


def missing(tool: dict[str, Any], config: ToolsConfig) -> list[str]:
    """The capabilities ``tool`` has that chats may not use; [] when chats may offer it."""
    needed = set(tool["capabilities"]) - set(config.chat_capabilities)
    if tool["function"]["name"] in config.chat_network_tools:
        needed.discard("network")
    return sorted(needed)


def chat_tool_specs(
    tools: list[dict[str, Any]], config: ToolsConfig, allowed_tools: list[str] | None
) -> list[dict[str, Any]]:
    """The function specs a chat offers, in the registry's order (prompts share a prefix).

    ``tools`` are the registry's, each ``{"function": spec, "capabilities": [...]}``;
    ``allowed_tools`` None means every tool chats may use.
    """
    if allowed_tools is None:
        return [tool["function"] for tool in tools if not missing(tool, config)]
    by_name = {tool["function"]["name"]: tool for tool in tools}
    unknown = sorted(set(allowed_tools) - set(by_name))
    if unknown:
        raise ToolNotAllowedError(
            f"allowed_tools: no tool named {', '.join(unknown)}; GET /tools lists the tools "
            "(and GET /status the MCP tools held back)"
        )
    refused = {name: missing(by_name[name], config) for name in sorted(set(allowed_tools))}
    refused = {name: needs for name, needs in refused.items() if needs}
    if refused:
        needs = "; ".join(f"{name} needs {', '.join(caps)}" for name, caps in refused.items())
        raise ToolNotAllowedError(
            f"allowed_tools: {needs}, which tools.chat_capabilities does not enable for chats"
        )
    return [tool["function"] for tool in tools if tool["function"]["name"] in allowed_tools]
