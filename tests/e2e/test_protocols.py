"""The ecosystem protocols against the real app: the official `openai` client on /v1 and the
official MCP client on /mcp.

Bad inputs tried: an unknown model, temperature out of range, tool_choice naming an unknown
function, tool_choice without tools, non-text content parts; for adapters: an unknown or unloaded
adapter name, a lora_path that is no folder, a full model folder (no adapter_config.json), an
adapter made for another base, a duplicate name, a name with ':', an adapter whose folder
vanished before it had to be reloaded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openai
import pytest

from tests.gguf_models import served_model
from tests.lora_adapters import make_lora_adapter
from tests.serve_process import ServeApp
from tests.tiny_model import TRAINED_TINY_MODEL

pytestmark = pytest.mark.slow

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


MAX_LOADED_ADAPTERS = 2


@pytest.fixture(scope="module")
def served(engine, tmp_path_factory) -> Path:
    """The tiny trained model, in the form the module's engine serves it."""
    return served_model(engine, TRAINED_TINY_MODEL, tmp_path_factory)


@pytest.fixture(scope="module")
def app(tmp_path_factory, engine, served):
    workdir = tmp_path_factory.mktemp("openai")
    config = {
        "model": {
            "model_path": str(served),
            "engine": engine,
            "max_loaded_adapters": MAX_LOADED_ADAPTERS,
        }
    }
    with ServeApp(workdir, config).start() as serve_app:
        yield serve_app


@pytest.fixture(scope="module")
def oai(app):
    return openai.OpenAI(base_url=f"{app.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def model(oai):
    return oai.models.list().data[0].id


def test_models_lists_the_served_model(oai, model):
    entry = oai.models.list().data[0]
    assert entry.id == model == TRAINED_TINY_MODEL.name
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


def test_a_stream_yields_the_same_call_as_the_plain_reply(oai, model):
    ask = {
        "model": model,
        "messages": [{"role": "user", "content": "计算 15 * 23 的结果"}],
        "tools": [CALCULATE, CLOCK],
        "tool_choice": "required",
        "temperature": 0,
        "max_tokens": 120,
    }
    plain = oai.chat.completions.create(**ask).choices[0].message.tool_calls
    calls: dict[int, dict] = {}
    for chunk in oai.chat.completions.create(**ask, stream=True):
        for delta in chunk.choices[0].delta.tool_calls or []:
            calls.setdefault(delta.index, {"name": "", "arguments": ""})
            calls[delta.index]["name"] += delta.function.name or ""
            calls[delta.index]["arguments"] += delta.function.arguments or ""
    assert plain, "required gives a call"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in plain] == [
        (c["name"], json.loads(c["arguments"])) for c in calls.values()
    ]


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"type": "object", "properties": {"p": {"type": "string", "pattern": "([a-z"}}}, "regex"),
        ({"type": "object", "properties": {"p": {"$ref": "#/$defs/gone"}}}, "gone"),
    ],
)
def test_a_schema_the_grammar_cannot_enforce_is_400_naming_the_tool(oai, model, parameters, reason):
    hostile = {"type": "function", "function": {"name": "hostile", "parameters": parameters}}
    with pytest.raises(openai.BadRequestError) as refused:
        oai.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "x"}],
            tools=[CALCULATE, hostile],
            max_tokens=8,
        )
    assert "'hostile'" in refused.value.message and reason in refused.value.message.lower()
    # The replica is unharmed: the same request without that tool is answered.
    reply = oai.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "x"}], tools=[CALCULATE], max_tokens=8
    )
    assert reply.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_a_long_enum_and_deep_nesting_are_served(oai, model):
    """Within the tiny model's 2048-token prompt (a 10 000-value enum is compiled in the unit
    tests: its prompt alone is 109 k tokens, a clear 400 here)."""
    deep: dict = {"type": "integer"}
    for _ in range(20):
        deep = {"type": "object", "properties": {"x": deep}, "required": ["x"]}
    enum = {"type": "string", "enum": [f"c{i}" for i in range(200)]}
    tools = [
        {"type": "function", "function": {"name": "deep", "parameters": deep}},
        {
            "type": "function",
            "function": {
                "name": "pick_city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": enum},
                    "required": ["city"],
                },
            },
        },
    ]
    reply = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "pick a city"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "pick_city"}},
        max_tokens=160,
    )
    call = reply.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments)["city"] in enum["enum"]


def test_the_grammar_can_be_turned_off_per_request(oai, model):
    reply = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "计算 15 * 23 的结果"}],
        tools=[CALCULATE],
        max_tokens=40,
        extra_body={"tool_grammar": False},
    )
    assert reply.choices[0].finish_reason in ("stop", "length", "tool_calls")


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


# Per-request LoRA adapters. Three real peft adapters (random non-zero weights, so greedy output
# changes) over the served base; each replica keeps MAX_LOADED_ADAPTERS of them.
HELLO = [{"role": "user", "content": "hello 0"}]


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, served):
    folder = tmp_path_factory.mktemp("adapters")
    return {
        name: make_lora_adapter(served, folder / name, seed)
        for name, seed in (("alpha", 1), ("beta", 2), ("gamma", 3))
    }


def load_adapter(oai, name, path) -> dict:
    """vLLM's route, through the official client's generic POST (it has no method for it)."""
    body = {"lora_name": name, "lora_path": str(path)}
    return oai.post("/load_lora_adapter", body=body, cast_to=object)


def reply(oai, model_name: str) -> str:
    answer = oai.chat.completions.create(model=model_name, messages=HELLO, max_tokens=12)
    assert answer.model == model_name
    return answer.choices[0].message.content or ""


def test_loaded_adapters_are_listed_with_their_lineage(oai, model, adapters, served):
    for name, path in adapters.items():
        assert load_adapter(oai, name, path)["id"] == name
    listed = {entry.id: entry for entry in oai.models.list().data}
    assert list(listed) == [model, "alpha", "beta", "gamma"]
    for name in adapters:
        assert listed[name].parent == model
        assert listed[name].root == listed[model].root == str(served)


def test_model_picks_the_adapter_per_request(oai, model, adapters, served):
    base = reply(oai, model)
    alpha, beta = reply(oai, "alpha"), reply(oai, "beta")
    assert len({base, alpha, beta}) == 3, (base, alpha, beta)
    assert reply(oai, f"{model}:alpha") == alpha
    assert reply(oai, f"{served}:beta") == beta
    assert reply(oai, model) == base  # the adapters left the base as it was


def test_adapters_stream_like_they_answer(oai, adapters):
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in oai.chat.completions.create(
            model="beta", messages=HELLO, max_tokens=12, stream=True
        )
    ]
    assert "".join(pieces) == reply(oai, "beta")


def test_least_recently_used_adapter_is_evicted_and_reloaded(oai, adapters):
    """A moved-away folder shows when a replica reads an adapter again: not while it is among
    the MAX_LOADED_ADAPTERS most recently used, but after enough others evicted it."""
    alpha, beta = reply(oai, "alpha"), reply(oai, "beta")  # replica holds [alpha, beta]
    away = adapters["alpha"].with_name("alpha-away")
    shutil.move(adapters["alpha"], away)
    try:
        assert reply(oai, "alpha") == alpha  # still loaded: [beta, alpha]
        reply(oai, "gamma")  # evicts beta: [alpha, gamma]
        assert reply(oai, "beta") == beta  # reloads beta, evicts alpha: [gamma, beta]
        with pytest.raises(openai.BadRequestError, match="cannot load LoRA adapter"):
            reply(oai, "alpha")  # evicted, so it must be read again, and its folder is gone
    finally:
        shutil.move(away, adapters["alpha"])
    assert reply(oai, "alpha") == alpha  # reloaded on demand


def test_bad_adapter_loads_are_refused_and_change_nothing(oai, adapters, served, tmp_path):
    other_base = tmp_path / "other-base"
    shutil.copytree(adapters["alpha"], other_base)
    config_file = other_base / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "base_model_name_or_path": "Qwen/Qwen2-7B"}))
    before = [entry.id for entry in oai.models.list().data]
    cases = {
        "no folder": ("x", tmp_path / "missing", "is not a folder"),
        "full model": ("x", served, "has no adapter_config.json"),
        "other base": ("x", other_base, "made for base model 'Qwen/Qwen2-7B'"),
        "duplicate": ("alpha", adapters["beta"], "already loaded"),
        "colon": ("a:b", adapters["beta"], "lora_name 'a:b' must start"),
    }
    for case, (name, path, message) in cases.items():
        with pytest.raises(openai.BadRequestError) as refused:
            load_adapter(oai, name, path)
        assert message in refused.value.message, case
        assert refused.value.type == "invalid_request_error", case
    assert [entry.id for entry in oai.models.list().data] == before


def test_unloaded_adapter_is_not_found(oai, model, adapters):
    def unload(name: str) -> dict:
        return oai.post("/unload_lora_adapter", body={"lora_name": name}, cast_to=object)

    assert unload("gamma") == {"id": "gamma", "object": "model", "deleted": True}
    assert "gamma" not in [entry.id for entry in oai.models.list().data]
    for name in ("gamma", f"{model}:gamma"):
        with pytest.raises(openai.NotFoundError) as missing:
            reply(oai, name)
        assert missing.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError) as again:
        unload("gamma")
    assert again.value.code == "model_not_found"
