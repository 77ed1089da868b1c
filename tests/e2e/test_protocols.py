"""The ecosystem protocols against the real app: the official `openai` client on /v1 and the
official MCP client on /mcp.

Bad inputs tried: an unknown model, temperature out of range, tool_choice naming an unknown
function, tool_choice without tools, non-text content parts.
"""

from __future__ import annotations

import json

import openai
import pytest

from configs.settings import resolve_path
from tests.serve_process import ServeApp

pytestmark = pytest.mark.slow

SHIPPED_MODEL = resolve_path("models/tiny-qwen2-tools")
CALCULATE = {
    "type": "function",
    "function": {
        "name": "calculate",
        "description": "Evaluate an arithmetic expression exactly.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "e.g. 2 + 3 * 4"}},
            "required": ["expression"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_current_time",
        "description": "Get the current date and time in a timezone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "IANA timezone name"}},
        },
    },
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("openai")
    serve_app = ServeApp(workdir, {"model": {"model_path": str(SHIPPED_MODEL)}}).start()
    try:
        yield serve_app
    finally:
        serve_app.stop()


@pytest.fixture(scope="module")
def oai(app):
    return openai.OpenAI(base_url=f"{app.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def model(oai):
    return oai.models.list().data[0].id


def test_models_lists_the_served_model(oai, model):
    entry = oai.models.list().data[0]
    assert entry.id == model == SHIPPED_MODEL.name
    assert entry.owned_by == "mcp-tune"


def test_plain_chat(oai, model):
    reply = oai.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "你好，请介绍一下自己"}], max_tokens=40
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_tool_round_trip(oai, model):
    """Call → result → answer. `required` makes the call certain, whatever the model's skill."""
    messages = [{"role": "user", "content": "计算 15 * 23 的结果"}]
    first = oai.chat.completions.create(
        model=model, messages=messages, tools=[CALCULATE], tool_choice="required"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_") and call.function.name == "calculate"
    assert isinstance(json.loads(call.function.arguments)["expression"], str)  # schema-valid
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "345"},
    ]
    final = oai.chat.completions.create(
        model=model, messages=messages, tools=[CALCULATE], max_tokens=40
    )
    assert final.choices[0].message.role == "assistant"
    assert final.usage.prompt_tokens > first.usage.prompt_tokens  # the tool result was read


def test_streaming_with_tools(oai, model):
    stream = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "现在东京几点了？"}],
        tools=[CALCULATE, CLOCK],
        tool_choice={"type": "function", "function": {"name": "get_current_time"}},
        stream=True,
    )
    calls, finish = [], None
    for chunk in stream:
        delta = chunk.choices[0].delta
        calls.extend(delta.tool_calls or [])
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls[0].function.name == "get_current_time"
    assert isinstance(json.loads(calls[0].function.arguments), dict)


def test_streamed_text_equals_the_plain_reply(oai, model):
    messages = [{"role": "user", "content": "What is a large language model?"}]
    plain = oai.chat.completions.create(model=model, messages=messages, max_tokens=30)
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in oai.chat.completions.create(
            model=model, messages=messages, max_tokens=30, stream=True
        )
    ]
    assert len([p for p in pieces if p]) > 1  # really streamed, not one blob
    assert "".join(pieces) == plain.choices[0].message.content


def test_named_tool_choice_yields_a_schema_valid_call(oai, model):
    reply = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "现在东京几点了？"}],
        tools=[CALCULATE, CLOCK],
        tool_choice={"type": "function", "function": {"name": "get_current_time"}},
    )
    call = reply.choices[0].message.tool_calls[0]
    assert call.function.name == "get_current_time"
    assert isinstance(json.loads(call.function.arguments), dict)


def test_tool_choice_none_answers_without_calls(oai, model):
    reply = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "计算 15 * 23 的结果"}],
        tools=[CALCULATE],
        tool_choice="none",
        max_tokens=40,
    )
    assert not reply.choices[0].message.tool_calls


def test_errors_come_in_openai_shape(oai, model):
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as bad_temperature:
        oai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}], temperature=9
        )
    assert "temperature" in bad_temperature.value.message
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "x"}],
            tools=[CALCULATE],
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}], tool_choice="required"
        )
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(
            model=model,
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
            ],
        )


async def _mcp_session_calls(url: str) -> tuple[list[str], object, object]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        streamable_http_client(f"{url}/mcp") as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        ok = await session.call_tool("calculate", {"expression": "2 + 3 * 4"})
        failed = await session.call_tool("calculate", {"expression": "1/0"})
        return [tool.name for tool in listed.tools], ok, failed


def test_mcp_client_lists_and_calls_the_tools(app):
    import asyncio

    names, ok, failed = asyncio.run(_mcp_session_calls(app.url))
    assert {"calculate", "get_current_time", "read_file"} <= set(names)
    assert ok.is_error is False and ok.content[0].text == "14"
    assert failed.is_error is True and "zero" in failed.content[0].text
