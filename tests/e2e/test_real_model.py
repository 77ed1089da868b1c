"""The real default model (the shipped tool-calling LoRA over Qwen2.5-Coder-0.5B-Instruct, its base
fetched by name) served by `serve run`:
it calls a built-in tool that then runs, round-trips a tool call with the official `openai`
client, and answers a plain question in sentences. Few tests: a reply costs seconds on 2 cores.
"""

from __future__ import annotations

import json
import re

import openai
import pytest

from tests.serve_process import ServeApp

pytestmark = [pytest.mark.slow, pytest.mark.real_model]

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


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # The shipped defaults: the model by name from model.cache_dir, int8 on CPU, prefix cache.
    with ServeApp(tmp_path_factory.mktemp("real"), {}).start(timeout_s=600) as serve_app:
        yield serve_app


def test_chat_simple_calls_calculate_and_runs_it(client):
    body = {"text": "计算 15 * 23 的结果", "max_new_tokens": 48}
    reply = client.post("/chat/simple", json=body, timeout=300)
    assert reply.status_code == 200, reply.text
    turn = reply.json()
    assert turn["tool_calls"][0] == {"name": "calculate", "arguments": {"expression": "15 * 23"}}
    assert turn["tool_results"][0] == 345
    # The shipped adapter writes <tool_call> tags (the base wrote JSON the parser had to recover)
    # and answers in words with the result.
    assert turn["recovered_tool_calls"] == []
    assert "345" in turn["final_response"], turn["final_response"]
    status = client.get("/status").json()
    assert status["model_path"] == "models/qwen2.5-coder-0.5b-tools"
    assert status["prefix_cache"]["hits"] >= 1  # round 2 reused round 1's prompt


def test_openai_client_round_trips_a_tool_call(app):
    client = openai.OpenAI(base_url=f"{app.url}/v1", api_key="unused", timeout=300)
    model = client.models.list().data[0].id
    messages = [{"role": "user", "content": "What is 37 * 91? Use the calculator."}]
    first = client.chat.completions.create(
        model=model, messages=messages, tools=[CALCULATE], max_tokens=64
    )
    assert first.choices[0].finish_reason == "tool_calls"
    [call] = first.choices[0].message.tool_calls
    assert call.function.name == "calculate"
    expression = json.loads(call.function.arguments)["expression"]
    assert eval(expression, {"__builtins__": {}}) == 3367  # noqa: S307 (digits and operators)
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "3367"},
    ]
    final = client.chat.completions.create(
        model=model, messages=messages, tools=[CALCULATE], max_tokens=32
    )
    # The call and its result went back into the prompt; the reply is a well-formed completion.
    assert final.usage.prompt_tokens > first.usage.prompt_tokens + first.usage.completion_tokens
    assert final.choices[0].finish_reason in {"stop", "length", "tool_calls"}


def test_a_plain_question_is_answered_in_sentences_not_a_loop(client):
    reply = client.post(
        "/chat",
        json={"messages": [{"role": "user", "content": "什么是递归？"}], "max_new_tokens": 96},
        timeout=300,
    )
    assert reply.status_code == 200, reply.text
    text = reply.json()["response"]
    assert "递归" in text and len(text) > 30
    sentences = [s for s in re.split(r"[。！？.!?\n]", text) if s.strip()]
    assert len(set(sentences)) >= 0.75 * len(sentences), text  # no sentence said over and over
    assert not re.search(r"(.{2,})\1{3,}", text), text  # no span repeated four times running
