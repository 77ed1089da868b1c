"""Every request of the user's API guide (seed/api-guide.zh.md), in its order, against the real app
with the shipped tool defaults: routes, status codes and response shapes as the guide documents
them. The model is the trained tiny fixture (it writes tool calls, but its words mean nothing), so
the tests check shapes, not content.

The guide's own placeholder paths (/path/to/model, /path/to/dataset) are refused with a
`{"detail": ...}` body, as its error section describes; the same requests then run with real
folders. The weather chat runs offline here: a get_weather call must come back as "service
unavailable", never as invented weather.
"""

from __future__ import annotations

import json

import pytest

from tests.lora_adapters import make_lora_adapter
from tests.serve_process import ServeApp
from tests.tiny_model import TRAINED_TINY_MODEL
from tests.training_status import wait_for_status

pytestmark = pytest.mark.slow

GUIDE_TOOLS = {"web_search", "get_weather", "calculate"}
GUIDE_BASE = "Qwen/Qwen2-7B-Instruct"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("api_guide")
    config = {
        # Its folder is a model root, so that the job trains it and adapters load over it.
        "model": {
            "model_path": str(TRAINED_TINY_MODEL),
            "allowed_roots": [str(workdir), str(TRAINED_TINY_MODEL.parent)],
        },
        "generation": {"max_new_tokens": 32},
        "data": {"allowed_roots": [str(workdir)]},
        "training": {"eval_max_examples": 0},
        "security": {"rate_limit_per_s": 0},  # back-to-back requests; limits: test_security
        # The tools section is left at its defaults: the guide's examples must work with them.
    }
    with ServeApp(workdir, config).start() as serve_app:
        yield serve_app


@pytest.fixture(scope="module")
def adapter(app):
    return make_lora_adapter(TRAINED_TINY_MODEL, app.workdir / "guide-adapter", seed=3)


@pytest.fixture(scope="module")
def dataset(app, client):
    """A dataset of the guide's own weather request, in the OpenAI format."""
    schemas = client.get("/tools").json()["tool_schemas"]
    tools = [{"type": "function", "function": schemas["get_weather"]}]
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {}}}
    rows = []
    for index in range(200):
        call["function"]["arguments"] = {"location": f"城市{index}"}
        ask = {"role": "user", "content": f"城市{index}今天天气怎么样？"}
        reply = {"role": "assistant", "content": "", "tool_calls": [call]}
        rows.append(json.dumps({"messages": [ask, reply], "tools": tools}, ensure_ascii=False))
    path = app.workdir / "weather.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def assert_error(response, status: int) -> str:
    """The guide's error format: the status, and a body of one ``detail`` string."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


def test_docs_are_served_where_the_guide_says(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200


def test_health_has_the_guide_fields(client):
    health = client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "healthy" and body["model_loaded"] is True
    assert body["training_status"] is False and body["timestamp"].startswith("20")


def test_status_lists_the_guide_tools(client):
    status = client.get("/status")
    assert status.status_code == 200
    body = status.json()
    assert body["model_loaded"] is True and body["model_path"] == str(TRAINED_TINY_MODEL)
    training = body["training_status"]
    assert training["is_training"] is False and training["progress"] == 0
    assert isinstance(training["message"], str)
    assert set(body["available_tools"]) >= GUIDE_TOOLS
    assert isinstance(body["hf_manager_available"], bool)


def test_model_load_of_the_guide_placeholder_is_refused_with_detail(client):
    body = {"model_path": "/path/to/model", "base_model_name": GUIDE_BASE}
    detail = assert_error(client.post("/model/load", json=body), 403)
    assert "/path/to/model" in detail


def test_model_load_of_a_lora_adapter_with_its_base_then_info(client, adapter):
    body = {"model_path": str(adapter), "base_model_name": str(TRAINED_TINY_MODEL)}
    loaded = client.post("/model/load", json=body)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["status"] == "loaded"
    info = client.get("/model/info")
    assert info.status_code == 200
    info = info.json()
    assert info["model_path"] == str(adapter)
    assert info["base_model_name"] == str(TRAINED_TINY_MODEL)
    assert info["model_type"] == "LoRA" and info["loaded_at"].startswith("20")
    # Back to the full model for the rest of the guide (the Python example loads it too).
    full = client.post("/model/load", json={"model_path": str(TRAINED_TINY_MODEL)})
    assert full.status_code == 200, full.text
    assert client.get("/model/info").json()["model_type"] == "full"


def test_chat_with_the_guide_body_answers_response_and_timestamp(client):
    body = {
        "messages": [
            {"role": "system", "content": "你是一个有用的AI助手"},
            {"role": "user", "content": "你好，请介绍一下自己"},
        ],
        "max_length": 2048,
        "temperature": 0.7,
        "system_prompt": "你是一个专业的AI助手",
    }
    answer = client.post("/chat", json=body)
    assert answer.status_code == 200, answer.text
    answer = answer.json()
    assert isinstance(answer["response"], str) and answer["timestamp"].startswith("20")


def test_chat_simple_weather_offers_the_network_tools_and_says_when_offline(client):
    # The shipped defaults offer chats the guide's weather and search tools.
    assert set(client.get("/tools").json()["chat_tools"]) >= GUIDE_TOOLS
    body = {"text": "今天天气怎么样？", "system_prompt": "你是一个天气助手"}
    turn = client.post("/chat/simple", json=body)
    assert turn.status_code == 200, turn.text
    turn = turn.json()
    assert turn["user_input"] == "今天天气怎么样？"
    assert isinstance(turn["assistant_response"], str) and isinstance(turn["final_response"], str)
    assert turn["timestamp"].startswith("20")
    assert len(turn["tool_results"]) == len(turn["tool_calls"])
    for call, result in zip(turn["tool_calls"], turn["tool_results"], strict=True):
        assert set(call) == {"name", "arguments"} and isinstance(call["arguments"], dict)
        if call["name"] != "get_weather":
            continue
        if "error" not in result:
            assert {"temperature", "condition"} <= set(result)  # a machine that is online
            continue
        assert result["error_kind"] != "not_allowed", result  # chats may call it by default
        if result["error_kind"] == "unavailable":  # offline (this machine, CI): said plainly
            assert result["error"].startswith(
                "The weather service could not be reached, so the answer cannot include live data"
            )


def test_tools_lists_names_and_the_guide_schema_shape(client):
    listed = client.get("/tools")
    assert listed.status_code == 200
    body = listed.json()
    assert set(body["tools"]) >= GUIDE_TOOLS and set(body["tool_schemas"]) == set(body["tools"])
    search = body["tool_schemas"]["web_search"]
    assert search["name"] == "web_search" and search["description"]
    assert search["parameters"]["type"] == "object"
    assert search["parameters"]["properties"]["query"]["type"] == "string"
    assert search["parameters"]["required"] == ["query"]


def test_tools_execute_calculate_gives_14(client):
    body = {"tool_name": "calculate", "arguments": {"expression": "2 + 3 * 4"}}
    executed = client.post("/tools/execute", json=body)
    assert executed.status_code == 200, executed.text
    executed = executed.json()
    assert executed["tool_name"] == "calculate" and executed["result"] == 14
    assert executed["arguments"] == {"expression": "2 + 3 * 4"}
    assert executed["timestamp"].startswith("20")


def test_config_get_and_the_guide_update(client):
    config = client.get("/config")
    assert config.status_code == 200 and {"model", "training", "tools"} <= set(config.json())
    update = {"model": {"max_length": 4096}, "training": {"batch_size": 8}}
    assert client.post("/config/update", json=update).status_code == 200
    after = client.get("/config").json()
    assert after["model"]["max_length"] == 4096 and after["training"]["batch_size"] == 8


def test_training_start_status_stop_with_the_guide_body(client, dataset):
    guide_updates = {"num_epochs": 5, "learning_rate": 1e-5}
    placeholder = {"config_updates": guide_updates, "dataset_path": "/path/to/dataset"}
    assert "/path/to/dataset" in assert_error(client.post("/training/start", json=placeholder), 403)

    started = client.post(
        "/training/start", json={"config_updates": guide_updates, "dataset_path": str(dataset)}
    )
    assert started.status_code == 200, started.text
    assert started.json()["is_training"] is True
    running = wait_for_status(client, lambda s: s["step"] >= 1 or not s["is_training"])
    assert running["is_training"] is True, running  # 5 epochs of 200 rows outlast this
    assert isinstance(running["progress"], int | float) and 0 <= running["progress"] <= 100
    assert isinstance(running["message"], str) and running["message"]

    stopping = client.post("/training/stop")
    assert stopping.status_code == 200, stopping.text
    stopped = wait_for_status(client, lambda s: not s["is_training"], timeout_s=180)
    assert stopped["state"] == "stopped", stopped
    assert client.get("/health").json()["training_status"] is False


def test_huggingface_status_and_upload_without_a_repo(client):
    status = client.get("/huggingface/status")
    assert status.status_code == 200
    assert {"token_present", "repo_id", "available"} <= set(status.json())
    # The guide posts no body; with no huggingface.repo_id set the app says what to set.
    detail = assert_error(client.post("/huggingface/upload", json={}), 400)
    assert "repo_id" in detail


def test_python_client_example_walkthrough(client):
    """The guide's Python examples (its requests calls and MCPAPIClient), in order."""
    assert client.get("/health").json()["status"] == "healthy"
    load = {"model_path": str(TRAINED_TINY_MODEL), "base_model_name": None}
    assert client.post("/model/load", json=load).status_code == 200
    hello = {"text": "你好，请介绍一下自己", "system_prompt": "你是一个有用的AI助手"}
    assert isinstance(client.post("/chat/simple", json=hello).json()["final_response"], str)

    assert client.get("/status").json()["model_loaded"] is True
    result = client.post("/chat/simple", json={"text": "计算 15 * 23 的结果"}).json()
    assert result["user_input"] == "计算 15 * 23 的结果"
    assert isinstance(result["final_response"], str)
    messages = [
        {"role": "system", "content": "你是一个数学助手"},
        {"role": "user", "content": "请解释什么是斐波那契数列"},
    ]
    body = {"messages": messages, "max_length": 2048, "temperature": 0.7}
    assert isinstance(client.post("/chat", json=body).json()["response"], str)


def test_errors_come_as_detail_with_the_guide_codes(client, app):
    # 404: what is not there; 400: a bad parameter, the field named.
    missing = {"model_path": str(app.workdir / "no-such-model")}
    assert_error(client.post("/model/load", json=missing), 404)
    too_long = {"messages": [{"role": "user", "content": "x"}], "max_length": 10**6}
    assert "max_length" in assert_error(client.post("/chat", json=too_long), 400)
    # The guide's safe_api_call example.
    assert client.get("/model/info").status_code == 200
