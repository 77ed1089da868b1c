"""Fields that clients of the seed's reference server read: POST /model/load's ``message`` and
GET /huggingface/status's ``available`` / ``authenticated``.

The status route is called directly with a stand-in for the app's backends (no Ray), against a
loopback hub stub or a port nothing listens on. Cases tried: a LoRA and a full model; token with
a reachable hub, no token, token with an unreachable hub.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from configs.settings import AppConfig
from llm.prefix_cache import PrefixCache
from serve_app.routes.huggingface import hub_status
from serve_app.routes.model import load_message
from serve_app.schemas import HubStatusResponse, ModelInfo
from tests.hub_stub import HubStub

TOKEN = "hf_unit_test_token_0123456789"
TOKEN_ENV = "MCP_TUNE_UNIT_HF_TOKEN"


def model_info(**fields: object) -> ModelInfo:
    defaults = {
        "model_path": "models/x",
        "model_folder": "/work/models/x",
        "base_model_name": None,
        "model_type": "full",
        "loaded_at": "2026-01-01T00:00:00+00:00",
        "device": "cpu",
        "dtype": "float32",
        "parameters": 1_234_567,
        "load_seconds": 3.21,
        "quantization": "none",
        "engine": "transformers",
        "prefix_cache": PrefixCache(0).stats(),
        "tool_calls_recovered": {},
    }
    return ModelInfo(**(defaults | fields))


def test_load_message_names_a_lora_adapter_and_its_base():
    info = model_info(model_type="LoRA", base_model_name="Qwen/Qwen2-0.5B-Instruct")
    assert load_message(info) == (
        "loaded models/x (LoRA over Qwen/Qwen2-0.5B-Instruct, 1,234,567 parameters) "
        "in 3.2 s on cpu/float32"
    )


def test_load_message_names_a_full_model():
    message = load_message(model_info(device="cuda", dtype="bfloat16"))
    assert message.startswith("loaded models/x (full model, ")
    assert message.endswith("on cuda/bfloat16")


def test_load_message_says_the_weights_are_int8():
    message = load_message(model_info(quantization="int8"))
    assert message.endswith("on cpu/float32, int8 Linear layers")


@pytest.fixture
def hub() -> Iterator[HubStub]:
    with HubStub(TOKEN) as stub:
        yield stub


def status(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> HubStatusResponse:
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    config = AppConfig.model_validate(
        {"huggingface": {"token_env": TOKEN_ENV, "probe_timeout_s": 2.0}}
    )

    async def call_uploads(method: str) -> None:
        return None

    backends = SimpleNamespace(
        config=SimpleNamespace(get=lambda: config), call_uploads=call_uploads
    )
    return asyncio.run(hub_status(backends))


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_status_with_a_token_and_a_reachable_hub_is_available_and_authenticated(hub, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    answer = status(hub.url, monkeypatch)
    assert (answer.available, answer.authenticated) == (True, True)


def test_status_without_a_token_is_available_but_not_authenticated(hub, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    answer = status(hub.url, monkeypatch)
    assert (answer.token_present, answer.available, answer.authenticated) == (False, True, False)


def test_status_with_an_unreachable_hub_is_neither(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    answer = status(closed_port_url(), monkeypatch)
    assert (answer.token_present, answer.hub_reachable) == (True, False)
    assert (answer.available, answer.authenticated) == (False, False)
