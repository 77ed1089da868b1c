"""The app's Prometheus metrics end to end: after real traffic over HTTP (a chat with a tool call,
a tool run with arguments its schema refuses, a 404), Ray's metrics endpoint of the app's cluster
shows them with their labels: route templates, tools, adapters."""

from __future__ import annotations

import pytest

from tests.gguf_models import served_model
from tests.prometheus import wait_for_sample
from tests.ray_cluster import metrics_url
from tests.serve_process import ServeApp
from tests.tiny_model import TRAINED_TINY_MODEL

pytestmark = pytest.mark.slow

CHAT = {
    "messages": [{"role": "user", "content": "计算 15 * 23 的结果"}],
    "use_tools": True,
    "tool_choice": {"type": "function", "function": {"name": "calculate"}},
}


@pytest.fixture(scope="module")
def app(tmp_path_factory, engine):
    workdir = tmp_path_factory.mktemp("metrics")
    model = served_model(engine, TRAINED_TINY_MODEL, tmp_path_factory)
    config = {
        "model": {"model_path": str(model), "engine": engine},
        # Room for a whole call: the tool grammar counts its name and keys as reply tokens.
        "generation": {"max_new_tokens": 64},
    }
    with ServeApp(workdir, config).start() as serve_app:
        yield serve_app


@pytest.fixture(scope="module")
def url(app) -> str:
    return metrics_url(app)


@pytest.fixture(scope="module")
def chat_outcome(client) -> str:
    """The traffic every test reads metrics of; the outcome of the chat's calculate call."""
    chat = client.post("/chat", json=CHAT)
    assert chat.status_code == 200, chat.text
    assert [call["name"] for call in chat.json()["tool_calls"]] == ["calculate"]
    bad = {"tool_name": "calculate", "arguments": {"expression": 42}}
    assert client.post("/tools/execute", json=bad).status_code == 400
    assert client.get("/training/jobs/job-nope").status_code == 404
    result = chat.json()["tool_results"][0]
    return result["error_kind"] if isinstance(result, dict) and "error_kind" in result else "ok"


def test_requests_are_counted_by_route_template_and_status(url, chat_outcome):
    requests = "ray_mcp_tune_http_requests_total"
    wait_for_sample(url, requests, {"route": "/chat", "method": "POST", "status": "200"})
    wait_for_sample(url, requests, {"route": "/tools/execute", "status": "400"})
    wait_for_sample(url, requests, {"route": "/training/jobs/{job_id}", "status": "404"})
    latency = "ray_mcp_tune_http_request_seconds_count"
    wait_for_sample(url, latency, {"route": "/chat", "method": "POST", "status": "200"})


def test_tool_calls_are_counted_by_tool_and_outcome(url, chat_outcome):
    calls = "ray_mcp_tune_tool_calls_total"
    wait_for_sample(url, calls, {"tool": "calculate", "outcome": chat_outcome})
    wait_for_sample(url, calls, {"tool": "calculate", "outcome": "invalid_arguments"})


def test_the_model_server_reports_its_generations(url, chat_outcome, engine):
    base = {"adapter": "base"}
    # The call round and the answer round at least.
    wait_for_sample(url, "ray_mcp_tune_generations_total", {**base, "mode": "batch"}, above=1)
    wait_for_sample(url, "ray_mcp_tune_time_to_first_token_seconds_count", base)
    wait_for_sample(url, "ray_mcp_tune_generation_tokens_total", {**base, "kind": "completion"})
    if engine == "transformers":  # llama.cpp's decode steps happen inside its server, unseen
        wait_for_sample(url, "ray_mcp_tune_batch_size_count")
        wait_for_sample(url, "ray_mcp_tune_batch_tokens_per_second_count")
    # The answer round shares the call round's prompt prefix (system prompt, tools, question).
    wait_for_sample(url, "ray_mcp_tune_prefix_cache_lookups_total", {"result": "hit"})
    wait_for_sample(url, "ray_mcp_tune_prefix_cache_tokens_total", {"source": "reused"})
    assert wait_for_sample(url, "ray_mcp_tune_batch_queue_depth", above=-1) == 0


def test_tool_grammar_rows_and_compiles_are_counted(client, url, chat_outcome):
    # The same chat again: its grammars come from the cache.
    assert client.post("/chat", json=CHAT).status_code == 200
    rows = "ray_mcp_tune_tool_grammar_rows_total"
    wait_for_sample(url, rows, {"adapter": "base", "grammar": "constrained"}, above=1)
    compiles = "ray_mcp_tune_tool_grammar_compiles_total"
    wait_for_sample(url, compiles, {"result": "compiled"})
    wait_for_sample(url, compiles, {"result": "cache_hit"})
    wait_for_sample(url, "ray_mcp_tune_tool_grammar_compile_seconds_total")
