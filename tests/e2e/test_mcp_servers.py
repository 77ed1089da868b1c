"""Tools of a real external MCP server in the real app: the `mcp-server-time` package over stdio,
beside a server entry that cannot start.

Bad inputs tried: schema-violating arguments (wrong type, missing field), a timezone the server
refuses (its isError result), a server command whose module does not exist, /chat tool_choice
naming a tool that does not exist.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import mcp_types as types
import pytest
from mcp import Client
from transformers import AutoTokenizer

from tests.serve_process import ServeApp
from tests.tiny_model import TRAINED_TINY_MODEL
from tests.training_status import wait_for_status
from train_app.evaluation import CATEGORIES

pytestmark = pytest.mark.slow

TIME_TOOLS = ["time__get_current_time", "time__convert_time"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mcp_servers")
    config = {
        # Its folder is a model root, so that a job may train it.
        "model": {
            "model_path": str(TRAINED_TINY_MODEL),
            "allowed_roots": [str(TRAINED_TINY_MODEL.parent)],
        },
        "generation": {"max_new_tokens": 8},
        # Training rows for this server's tools (test_a_job_for_the_servers_tools_...).
        "data": {
            "num_generated_examples": 200,
            "registry_share": 0.9,
            "eval_rows_per_category": 8,
        },
        "tools": {
            "functions": ["tools.builtin.calculator:calculate"],
            "mcp_servers": [
                {"name": "time", "command": "python", "args": ["-m", "mcp_server_time"]},
                {"name": "broken", "command": "python", "args": ["-m", "no_such_mcp_server"]},
            ],
        },
    }
    with ServeApp(workdir, config).start() as serve_app:
        yield serve_app


def test_the_servers_tools_are_listed_with_its_schemas(client):
    listed = client.get("/tools").json()
    assert listed["tools"] == ["calculate", *TIME_TOOLS]
    clock = listed["tool_schemas"]["time__get_current_time"]
    assert clock["description"] == "Get current time in a specific timezone"
    assert clock["parameters"]["required"] == ["timezone"]
    assert clock["parameters"]["properties"]["timezone"]["type"] == "string"


def test_status_shows_each_server_and_why_one_is_down(client):
    status = client.get("/status").json()
    assert status["available_tools"] == ["calculate", *TIME_TOOLS]
    time_server, broken = status["mcp_servers"]
    assert time_server == {"name": "time", "connected": True, "tools": TIME_TOOLS, "error": None}
    assert broken["name"] == "broken" and broken["connected"] is False and broken["tools"] == []
    assert "No module named no_such_mcp_server" in broken["error"]


def test_execute_runs_the_real_server(client):
    response = client.post(
        "/tools/execute",
        json={"tool_name": "time__get_current_time", "arguments": {"timezone": "Asia/Tokyo"}},
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["timezone"] == "Asia/Tokyo"
    tokyo = datetime.fromisoformat(result["datetime"])
    assert tokyo.utcoffset() == timedelta(hours=9)
    assert abs(tokyo - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"timezone": 9}, "timezone: 9 is not of type 'string'"), ({}, "'timezone' is a required")],
)
def test_schema_violating_arguments_are_refused_with_400(client, arguments, field):
    response = client.post(
        "/tools/execute", json={"tool_name": "time__get_current_time", "arguments": arguments}
    )
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_an_error_result_of_the_server_is_a_400_with_its_message(client):
    response = client.post(
        "/tools/execute",
        json={"tool_name": "time__get_current_time", "arguments": {"timezone": "Mars/Olympus"}},
    )
    assert response.status_code == 400
    assert "Invalid timezone" in response.json()["detail"]


def test_chat_prompts_offer_the_servers_tools(client):
    """The prompt's tool list is not returned, but its length is: /chat reports the prompt's
    tokens, which match the tools of GET /tools rendered by the model's template, MCP tools
    included. /chat/simple offers the same list through the same code."""
    messages = [{"role": "user", "content": "What time is it in Tokyo?"}]
    body = {"messages": messages, "use_tools": True, "max_new_tokens": 1}
    response = client.post("/chat", json=body)
    assert response.status_code == 200, response.text
    prompt_tokens = response.json()["usage"]["prompt_tokens"]

    schemas = client.get("/tools").json()["tool_schemas"]
    tokenizer = AutoTokenizer.from_pretrained(TRAINED_TINY_MODEL)

    def rendered_tokens(names: list[str]) -> int:
        tools = [{"type": "function", "function": schemas[name]} for name in names]
        text = tokenizer.apply_chat_template(
            messages, tools=tools, add_generation_prompt=True, tokenize=False
        )
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    assert prompt_tokens == rendered_tokens(list(schemas))
    assert prompt_tokens > rendered_tokens(["calculate"])

    simple = client.post("/chat/simple", json={"text": "What time is it in Tokyo?"})
    assert simple.status_code == 200, simple.text


def test_mcp_clients_of_the_app_see_and_call_the_servers_tools(app):
    """Through our own /mcp: an MCP client → the app → the time server's session."""

    async def main() -> tuple[list[str], types.CallToolResult]:
        async with Client(f"{app.url}/mcp") as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            result = await client.call_tool("time__get_current_time", {"timezone": "Europe/Paris"})
            return names, result

    names, result = asyncio.run(main())
    assert names == ["calculate", *TIME_TOOLS]
    assert not result.is_error
    [content] = result.content
    assert isinstance(content, types.TextContent)
    assert json.loads(content.text)["timezone"] == "Europe/Paris"


def test_a_chat_turn_calls_the_mcp_tool_it_is_told_to(client):
    """tool_choice names the time server's tool (the tiny model does not choose reliably): the
    call runs in the real server, its result goes back to the model, which then answers."""
    body = {
        "messages": [{"role": "user", "content": "What time is it in Asia/Tokyo?"}],
        "use_tools": True,
        "tool_choice": {"type": "function", "function": {"name": "time__get_current_time"}},
        "max_new_tokens": 48,
    }
    response = client.post("/chat", json=body)
    assert response.status_code == 200, response.text
    turn = response.json()
    call, *_ = turn["tool_calls"]
    assert call["name"] == "time__get_current_time"
    result, *_ = turn["tool_results"]
    if "error" in result:  # the model may name a zone the server refuses: its own error text
        assert "Invalid timezone" in result["error"], result
    else:
        assert result["timezone"] == call["arguments"]["timezone"]
        stamp = datetime.fromisoformat(result["datetime"])
        assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)
    assert isinstance(turn["response"], str)  # the answer written after reading the result
    assert turn["finish_reason"] in ("stop", "length", "tool_calls")


def test_tool_choice_naming_an_unknown_tool_is_a_400(client):
    body = {
        "messages": [{"role": "user", "content": "What time is it?"}],
        "use_tools": True,
        "tool_choice": {"type": "function", "function": {"name": "time__no_such_tool"}},
    }
    response = client.post("/chat", json=body)
    assert response.status_code == 400
    assert "time__no_such_tool" in response.json()["detail"]


def test_a_job_for_the_servers_tools_raises_held_out_accuracy_and_its_adapter_serves(client):
    """Rows generated mostly for the app's own tools, the server's among them (really run for
    their results), and real-API corpus tools train the model; held-out rows (the app's tools in
    phrasings training never used, and held-out providers' APIs) score it."""
    job = {
        "num_epochs": 4,
        "batch_size": 8,
        "gradient_accumulation_steps": 1,
        "learning_rate": 0.003,
        "eval_max_examples": 40,
        "checkpoint_every_steps": 100,
        "auto_load_adapter": True,
    }
    started = client.post("/training/start", json={"config_updates": job})
    assert started.status_code == 200, started.text
    done = wait_for_status(
        client, lambda s: s["state"] in ("succeeded", "failed", "stopped"), timeout_s=900
    )
    assert done["state"] == "succeeded", done
    record = client.get(f"/training/jobs/{started.json()['job_id']}").json()
    assert "generated" in json.dumps(record, ensure_ascii=False)
    before, after = done["evaluation"]["before"], done["evaluation"]["after"]
    assert set(after["by_category"]) == set(CATEGORIES)
    # Over every category (40 rows, the hand-written sets' among them): one category's 4-5 rows
    # move by a row either way.
    assert after["accuracy"] > before["accuracy"], done["evaluation"]
    info = client.get("/model/info").json()
    assert (info["model_path"], info["model_type"]) == (done["adapter_path"], "LoRA")
    reply = client.post("/chat/simple", json={"text": "What time is it in Asia/Tokyo?"})
    assert reply.status_code == 200, reply.text
