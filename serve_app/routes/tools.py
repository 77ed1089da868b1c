"""GET /tools (with the tools chats may use) and POST /tools/execute."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from serve_app.backends import BackendsDep
from serve_app.errors import STATUS_BY_TOOL_ERROR
from serve_app.schemas import (
    ToolExecuteRequest,
    ToolExecuteResponse,
    ToolSchema,
    ToolsResponse,
    now_iso,
)
from serve_app.tool_policy import chat_tool_specs

router = APIRouter(prefix="/tools", tags=["tools"])


@router.get("", response_model=ToolsResponse)
async def list_tools(backends: BackendsDep) -> ToolsResponse:
    tools = await backends.chat_tools()
    specs = [tool["function"] for tool in tools]
    offered = chat_tool_specs(tools, backends.config.get().tools, None)
    return ToolsResponse(
        tools=[spec["name"] for spec in specs],
        tool_schemas={spec["name"]: ToolSchema(**spec) for spec in specs},
        chat_tools=[spec["name"] for spec in offered],
    )


@router.post("/execute", response_model=ToolExecuteResponse)
async def execute_tool(body: ToolExecuteRequest, backends: BackendsDep) -> ToolExecuteResponse:
    outcome = await backends.execute_tool(body.tool_name, body.arguments)
    if not outcome["ok"]:
        raise HTTPException(STATUS_BY_TOOL_ERROR[outcome["error_kind"]], outcome["error"])
    return ToolExecuteResponse(
        tool_name=body.tool_name,
        arguments=body.arguments,
        result=outcome["result"],
        timestamp=now_iso(),
    )
