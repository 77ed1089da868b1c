"""Which tools a chat offers: tools.chat_capabilities, narrowed by the request's allowed_tools."""

from __future__ import annotations

import pytest

from configs.settings import McpServerConfig, ToolsConfig
from serve_app.tool_policy import ToolNotAllowedError, chat_tool_specs

REGISTRY = [
    ("calculate", []),
    ("get_weather", ["network"]),
    ("read_file", []),
    ("write_file", ["write"]),
    ("docs__lookup", ["network"]),
]
TOOLS = [{"function": {"name": n, "parameters": {}}, "capabilities": c} for n, c in REGISTRY]


def offered(allowed_tools: list[str] | None = None, *capabilities: str) -> list[str]:
    config = ToolsConfig(chat_capabilities=list(capabilities), chat_network_tools=[])
    return [spec["name"] for spec in chat_tool_specs(TOOLS, config, allowed_tools)]


def test_by_default_chats_get_the_read_only_network_tools_but_no_other():
    # docs__lookup (an MCP server reached by url) may fetch any address a call names; write_file
    # writes. get_weather sends its arguments only to the weather service configured for it.
    default = [spec["name"] for spec in chat_tool_specs(TOOLS, ToolsConfig(), None)]
    assert default == ["calculate", "get_weather", "read_file"]
    assert ToolsConfig().chat_network_tools == ["get_weather", "web_search"]
    with pytest.raises(ToolNotAllowedError, match="docs__lookup needs network; write_file needs"):
        chat_tool_specs(TOOLS, ToolsConfig(), ["docs__lookup", "write_file"])


def test_without_chat_network_tools_chats_get_only_tools_without_capabilities():
    assert offered() == ["calculate", "read_file"]


def test_chat_network_tools_do_not_open_write():
    tools = [{"function": {"name": "post", "parameters": {}}, "capabilities": ["network", "write"]}]
    config = ToolsConfig(chat_network_tools=["post"])
    assert chat_tool_specs(tools, config, None) == []
    with pytest.raises(ToolNotAllowedError, match="post needs write,"):
        chat_tool_specs(tools, config, ["post"])
    assert chat_tool_specs(
        tools, ToolsConfig(chat_network_tools=["post"], chat_capabilities=["write"]), None
    )


@pytest.mark.parametrize(
    ("capabilities", "expected"),
    [
        (["network"], ["calculate", "get_weather", "read_file", "docs__lookup"]),
        (["write"], ["calculate", "read_file", "write_file"]),
        (["network", "write"], [name for name, _ in REGISTRY]),
    ],
)
def test_chat_capabilities_open_the_tools_that_need_them(capabilities, expected):
    assert offered(None, *capabilities) == expected


def test_allowed_tools_narrow_the_offer_in_registry_order():
    assert offered(["read_file", "calculate", "read_file"]) == ["calculate", "read_file"]
    assert offered([]) == []


def test_allowed_tools_naming_an_unknown_tool_is_refused_with_its_name():
    with pytest.raises(ToolNotAllowedError, match="no tool named nope, zz; GET /tools"):
        offered(["calculate", "zz", "nope"])


def test_allowed_tools_cannot_reach_past_the_config():
    with pytest.raises(ToolNotAllowedError) as refused:
        offered(["write_file", "get_weather", "calculate"])
    assert str(refused.value) == (
        "allowed_tools: get_weather needs network; write_file needs write, which "
        "tools.chat_capabilities does not enable for chats"
    )
    assert offered(["write_file"], "write") == ["write_file"]


def test_mcp_servers_are_network_when_reached_by_url_and_as_declared_otherwise():
    assert McpServerConfig(name="a", url="http://h/mcp").tool_capabilities == ["network"]
    assert McpServerConfig(name="a", command="c").tool_capabilities == []
    declared = McpServerConfig(name="a", command="c", capabilities=["network", "write"])
    assert declared.tool_capabilities == ["network", "write"]
    assert McpServerConfig(name="a", url="http://h/mcp", capabilities=[]).tool_capabilities == []


def test_approved_digests_are_checked():
    with pytest.raises(ValueError, match=r"approved_tools\['add'\]: 'abc' is not a digest"):
        McpServerConfig(name="a", command="c", approved_tools={"add": "abc"})
    McpServerConfig(name="a", command="c", approved_tools={"add": "0123456789abcdef"})
