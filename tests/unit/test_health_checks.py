"""check_health of the deployments: what Serve asks every few seconds before replacing a replica."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from configs.settings import ToolsConfig
from serve_app.model_server import ModelServer
from serve_app.tool_executor import ToolExecutor
from tools.registry import ToolRegistry


def model_server(loaded=None, failed_steps: int = 0):
    server = object.__new__(ModelServer.func_or_class)
    server._loaded, server._failed_steps = loaded, failed_steps
    server._decode_loop = SimpleNamespace(waiting=0)  # check_health re-sets the queue depth gauge
    return server


def test_a_model_server_without_a_model_is_healthy():
    model_server().check_health()  # it answers 404 until /model/load: a state, not a fault


def test_a_model_server_that_lost_its_weights_is_unhealthy():
    loaded = SimpleNamespace(model=None, tokenizer=object(), model_path="m", device="cpu")
    with pytest.raises(RuntimeError, match="lost its weights"):
        model_server(loaded).check_health()


def test_generation_failing_step_after_step_is_unhealthy():
    model_server(failed_steps=2).check_health()
    with pytest.raises(RuntimeError, match="3 decode steps"):
        model_server(failed_steps=3).check_health()


def test_a_tool_executor_with_an_emptied_registry_is_unhealthy():
    executor = object.__new__(ToolExecutor.func_or_class)
    config = ToolsConfig(functions=["tools.builtin.calculator:calculate"])
    executor._registry = ToolRegistry.from_config(config)
    executor.check_health()
    executor._registry._tools.clear()
    with pytest.raises(RuntimeError, match="none of its configured tools"):
        executor.check_health()
