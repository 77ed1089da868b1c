"""The user's REST API end to end: `serve run` on loopback, real tiny model, real tools, HTTP only.

Bad inputs tried: wrong types, missing and unknown fields, empty messages, too many messages,
max_length beyond the model's, unknown tool, schema-violating tool arguments, calculate injection,
workspace path escapes, missing model folder, non-model folder, invalid config updates
(wrong type, unknown key, unknown section, out-of-range value, unimportable tool, the served
model's own fields, which only /model/load sets).
"""

from __future__ import annotations

import shutil

import pytest

from tests.json_stub import JsonStub
from tests.open_meteo_stub import open_meteo
from tests.serve_process import ServeApp

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_model_dir):
    workdir = tmp_path_factory.mktemp("serve_api")
    (workdir / "workspace").mkdir()
    (workdir / "workspace" / "notes.txt").write_text("hello workspace")
    (workdir / "secret.txt").write_text("outside")
    with JsonStub(open_meteo) as weather:
        config = {
            # /model/load tests load copies placed in the test's own folder.
            "model": {"model_path": str(tiny_model_dir), "allowed_roots": [str(workdir)]},
            "generation": {"max_new_tokens": 24},
            # Back-to-back requests of this module can pass 40 in a second; limits: test_security.
            "security": {"rate_limit_per_s": 0},
            "tools": {
                "workspace_dir": str(workdir / "workspace"),
                "allowed_hosts": ["127.0.0.1"],  # the Open-Meteo stand-in is on loopback
                "weather_geocoding_url": f"{weather.url}/v1/search",
                "weather_forecast_url": f"{weather.url}/v1/forecast",
            },
        }
        with ServeApp(workdir, config).start() as serve_app:
            yield serve_app


def test_root_health_and_status(client, tiny_model_dir):
    assert client.get("/").status_code == 200
    health = client.get("/health").json()
    assert health["status"] == "healthy" and health["model_loaded"] is True
    assert health["training_status"] is False
    status = client.get("/status").json()
    assert status["model_path"] == str(tiny_model_dir)
    assert status["training_status"]["is_training"] is False
    assert status["training_status"]["progress"] == 0
    assert {"calculate", "get_weather", "web_search", "read_file"} <= set(status["available_tools"])


def test_docs_and_openapi_are_served(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/chat", "/chat/simple", "/tools/execute", "/config/update", "/model/load"} <= set(
        paths
    )


def test_model_info_reports_real_load(client, tiny_model_dir):
    info = client.get("/model/info").json()
    assert info["model_path"] == str(tiny_model_dir)
    assert info["model_type"] == "full"
    assert info["dtype"] == "float32" and info["parameters"] > 1_000_000
    assert info["loaded_at"].startswith("20")


def test_chat_generates_from_the_model(client):
    body = {
        "messages": [
            {"role": "system", "content": "你是一个有用的AI助手"},
            {"role": "user", "content": "你好，请介绍一下自己"},
        ],
        "max_length": 2048,
        "temperature": 0,
    }
    first = client.post("/chat", json=body)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["usage"]["completion_tokens"] >= 1
    assert answer["finish_reason"] in {"stop", "length", "tool_calls"}
    assert "timestamp" in answer
    # Greedy decoding of the same prompt is deterministic, also when batched with others.
    assert client.post("/chat", json=body).json()["response"] == answer["response"]


def test_chat_max_new_tokens_bounds_the_completion(client):
    body = {"messages": [{"role": "user", "content": "hi"}], "max_new_tokens": 3}
    assert client.post("/chat", json=body).json()["usage"]["completion_tokens"] <= 3


@pytest.mark.parametrize(
    "body",
    [
        {"messages": []},
        {"messages": "hello"},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
        {"messages": [{"role": "user", "content": "x"}], "temperature": 5},
        {"messages": [{"role": "user", "content": "x"}], "unknown_field": 1},
        {"text": ""},
    ],
)
def test_chat_refuses_malformed_requests(client, body):
    assert client.post("/chat", json=body).status_code == 422


def test_chat_refuses_limits_with_field_named(client):
    too_long = client.post(
        "/chat", json={"messages": [{"role": "user", "content": "x"}], "max_length": 10**6}
    )
    assert too_long.status_code == 400 and "max_length" in too_long.json()["detail"]
    many = client.post("/chat", json={"messages": [{"role": "user", "content": "x"}] * 101})
    assert many.status_code == 400 and "messages" in many.json()["detail"]
    no_room = client.post(
        "/chat", json={"messages": [{"role": "user", "content": "word " * 50}], "max_length": 20}
    )
    assert no_room.status_code == 400 and "max_length" in no_room.json()["detail"]


def test_chat_simple_has_the_guide_shape(client):
    response = client.post("/chat/simple", json={"text": "计算 15 * 23 的结果"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_input"] == "计算 15 * 23 的结果"
    for key in ("assistant_response", "tool_calls", "tool_results", "final_response", "timestamp"):
        assert key in body
    assert len(body["tool_results"]) == len(body["tool_calls"])


def test_tools_lists_names_and_schemas(client):
    body = client.get("/tools").json()
    assert set(body["tools"]) == set(body["tool_schemas"])
    weather = body["tool_schemas"]["get_weather"]
    assert weather["parameters"]["required"] == ["location"]
    assert "config" not in weather["parameters"]["properties"]


def test_execute_calculate_returns_structured_result(client):
    response = client.post(
        "/tools/execute", json={"tool_name": "calculate", "arguments": {"expression": "2 + 3 * 4"}}
    )
    assert response.status_code == 200
    assert response.json()["result"] == 14
    assert response.json()["arguments"] == {"expression": "2 + 3 * 4"}


def test_execute_weather_through_open_meteo_format(client):
    response = client.post(
        "/tools/execute", json={"tool_name": "get_weather", "arguments": {"location": "北京"}}
    )
    assert response.status_code == 200, response.text
    assert "20" in str(response.json()["result"]["temperature"])


def test_execute_file_tools_stay_in_workspace(client, app):
    ok = client.post(
        "/tools/execute", json={"tool_name": "read_file", "arguments": {"path": "notes.txt"}}
    )
    assert ok.status_code == 200 and "hello workspace" in str(ok.json()["result"])
    (app.workdir / "workspace" / "link").symlink_to(app.workdir / "secret.txt")
    for path in ["../secret.txt", str(app.workdir / "secret.txt"), "link", "a/../../secret.txt"]:
        escaped = client.post(
            "/tools/execute", json={"tool_name": "read_file", "arguments": {"path": path}}
        )
        assert escaped.status_code == 400, path
        assert "outside" not in escaped.text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"tool_name": "rm_rf", "arguments": {}}, 404),
        ({"tool_name": "calculate", "arguments": {}}, 400),
        ({"tool_name": "calculate", "arguments": {"expression": 5}}, 400),
        ({"tool_name": "calculate", "arguments": {"expression": "1", "extra": 1}}, 400),
        ({"tool_name": "calculate", "arguments": {"expression": "__import__('os')"}}, 400),
        ({"tool_name": "calculate", "arguments": {"expression": "9**9**9**9"}}, 400),
        ({"tool_name": "calculate", "arguments": "2+2"}, 422),
        ({"tool_name": "web_search", "arguments": {"query": "ray"}}, 503),
    ],
)
def test_execute_refuses_bad_calls(client, body, status):
    response = client.post("/tools/execute", json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_config_get_and_update_persist(client, app):
    config = client.get("/config").json()
    assert set(config) == {
        "model",
        "generation",
        "training",
        "data",
        "output",
        "tools",
        "huggingface",
        "server",
        "security",
    }
    update = {"model": {"max_length": 4096}, "training": {"batch_size": 8}}
    response = client.post("/config/update", json=update)
    assert response.status_code == 200
    after = client.get("/config").json()
    assert after["model"]["max_length"] == 4096 and after["training"]["batch_size"] == 8
    assert after["tools"] == config["tools"]
    assert "max_length: 4096" in app.overrides_file.read_text()


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"training": {"batch_size": "eight"}}, "training.batch_size"),
        ({"training": {"nope": 1}}, "training.nope"),
        ({"bogus_section": {"a": 1}}, "bogus_section"),
        ({"generation": {"top_p": 0}}, "generation.top_p"),
        ({"tools": {"functions": ["no.such.module:f"]}}, "tools.functions"),
        ({"model": {"model_path": "/etc"}}, "POST /model/load"),
        ({"model": {"max_length": 64, "load_on_start": False}}, "model.load_on_start"),
    ],
)
def test_invalid_config_update_is_refused_and_changes_nothing(client, update, field):
    before = client.get("/config").json()
    response = client.post("/config/update", json=update)
    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert client.get("/config").json() == before


def test_generation_setting_update_applies_to_next_chat(client):
    assert (
        client.post("/config/update", json={"generation": {"max_new_tokens": 2}}).status_code == 200
    )
    body = {"messages": [{"role": "user", "content": "tell me a story"}]}
    assert client.post("/chat", json=body).json()["usage"]["completion_tokens"] <= 2
    client.post("/config/update", json={"generation": {"max_new_tokens": 24}})


def test_model_load_errors_keep_the_current_model(client, app, tiny_model_dir):
    before = client.get("/model/info").json()
    missing = client.post("/model/load", json={"model_path": str(app.workdir / "nope")})
    assert missing.status_code == 404
    not_a_model = client.post("/model/load", json={"model_path": str(app.workdir / "workspace")})
    assert not_a_model.status_code == 400 and "config.json" in not_a_model.json()["detail"]
    assert client.post("/model/load", json={"path": "x"}).status_code == 422
    assert client.get("/model/info").json() == before


def test_model_load_swaps_model_without_restart(client, app, tiny_model_dir):
    copy = app.workdir / "model-copy"
    shutil.copytree(tiny_model_dir, copy)
    response = client.post("/model/load", json={"model_path": str(copy)})
    assert response.status_code == 200, response.text
    info = client.get("/model/info").json()
    assert info["model_path"] == str(copy)
    assert (
        client.post("/chat", json={"messages": [{"role": "user", "content": "hi"}]}).status_code
        == 200
    )
