"""ToolExecutor deployment: runs registry tools for the ingress, several calls per hop."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from ray import serve

from configs.store import ConfigStore
from serve_app import metrics
from tools.registry import ToolOutcome, ToolRegistry

logger = logging.getLogger("ray.serve")


@serve.deployment
class ToolExecutor:
    def __init__(self, config_file: str, overrides_file: str) -> None:
        self._store = ConfigStore(config_file, overrides_file)
        self._tools_config = self._store.get().tools
        self._registry = ToolRegistry.from_config(self._tools_config)
        self._rebuilding = asyncio.Lock()
        logger.info("tool registry: %s", [spec.name for spec in self._registry.specs()])

    def check_health(self) -> None:
        """Serve calls this every ``health_check_period_s``; raising gets the replica replaced."""
        self._registry.check_health()

    async def _current_registry(self) -> ToolRegistry:
        """Follow /config/update: rebuild the registry when the tools section changed.

        MCP sessions with servers whose entry is unchanged carry over to the new registry.
        """
        tools_config = self._store.get().tools
        if tools_config == self._tools_config:
            return self._registry
        async with self._rebuilding:
            if tools_config != self._tools_config:
                # Connecting MCP servers blocks; the replica's loop keeps serving meanwhile.
                self._registry = await asyncio.to_thread(
                    ToolRegistry.from_config, tools_config, self._registry
                )
                self._tools_config = tools_config
                logger.info("tool registry: %s", [spec.name for spec in self._registry.specs()])
        return self._registry

    async def specs(self) -> list[dict[str, Any]]:
        registry = await self._current_registry()
        return [spec.openai_schema()["function"] for spec in registry.specs()]

    async def chat_tools(self) -> list[dict[str, Any]]:
        """Each tool's function spec and capabilities, for the chat's choice (tool_policy)."""
        registry = await self._current_registry()
        return [
            {
                "function": tool.spec.openai_schema()["function"],
                "capabilities": sorted(tool.capabilities),
            }
            for tool in registry.tools()
        ]

    async def mcp_status(self) -> list[dict[str, Any]]:
        registry = await self._current_registry()
        return [asdict(status) for status in registry.mcp_status()]

    async def execute(self, name: str, arguments: Any) -> dict[str, Any]:
        outcome = await (await self._current_registry()).execute(name, arguments)
        return _recorded(outcome)

    async def execute_many(self, calls: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        outcomes = await (await self._current_registry()).execute_many(calls)
        return [_recorded(outcome) for outcome in outcomes]

    def __del__(self) -> None:
        # Serve calls this on shutdown: stop the stdio MCP servers this replica started.
        registry = getattr(self, "_registry", None)
        if registry is not None:
            registry.close()


def _recorded(outcome: ToolOutcome) -> dict[str, Any]:
    """The outcome as the ingress gets it, counted in the tool-call metrics first."""
    metrics.record_tool_call(outcome.name, outcome.error_kind)
    return outcome.to_dict()
