"""ToolExecutor deployment: runs registry tools for the ingress, several calls per hop."""

from __future__ import annotations

import logging
from typing import Any

from ray import serve

from configs.settings import ToolsConfig
from configs.store import ConfigStore
from tools.registry import ToolRegistry

logger = logging.getLogger("ray.serve")


@serve.deployment
class ToolExecutor:
    def __init__(self, config_file: str, overrides_file: str) -> None:
        self._store = ConfigStore(config_file, overrides_file)
        self._tools_config: ToolsConfig | None = None
        self._registry: ToolRegistry | None = None
        self._current_registry()

    def _current_registry(self) -> ToolRegistry:
        """Follow /config/update: rebuild the registry when the tools section changed."""
        tools_config = self._store.get().tools
        if self._registry is None or tools_config != self._tools_config:
            self._registry = ToolRegistry.from_config(tools_config)
            self._tools_config = tools_config
            logger.info("tool registry: %s", [spec.name for spec in self._registry.specs()])
        return self._registry

    def specs(self) -> list[dict[str, Any]]:
        return [spec.openai_schema()["function"] for spec in self._current_registry().specs()]

    async def execute(self, name: str, arguments: Any) -> dict[str, Any]:
        outcome = await self._current_registry().execute(name, arguments)
        return outcome.to_dict()

    async def execute_many(self, calls: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        outcomes = await self._current_registry().execute_many(calls)
        return [outcome.to_dict() for outcome in outcomes]
