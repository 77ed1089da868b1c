"""Web search through a SearxNG instance's JSON API; off until an endpoint is configured."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from configs.settings import ToolsConfig
from tools.builtin.http_json import get_json, unreachable
from tools.errors import ToolInputError, ToolUnavailableError
from tools.tool_spec import capabilities

SERVICE = "search service"


@capabilities("network")
def web_search(
    query: Annotated[str, Field(description="What to search the web for")],
    *,
    config: ToolsConfig,
) -> dict[str, Any]:
    """Search the web and return the top results, each with title, URL and snippet."""
    if config.search_url is None:
        raise unreachable(
            SERVICE, "none is configured: set tools.search_url to a SearxNG /search URL"
        )
    if not query.strip():
        raise ToolInputError("query is empty; say what to search for")
    answer = get_json(
        config.search_url,
        {"q": query, "format": "json"},
        timeout_s=config.http_timeout_s,
        allowed_hosts=config.allowed_hosts,
        service=SERVICE,
    )
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise ToolUnavailableError(f"{SERVICE} answered without a results list")
    hits = [
        {
            "title": str(result.get("title") or ""),
            "url": str(result["url"]),
            "snippet": str(result.get("content") or ""),
        }
        for result in results
        if isinstance(result, dict) and result.get("url")
    ]
    return {"query": query, "results": hits[: config.max_search_results]}
