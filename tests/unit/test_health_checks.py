"""check_health of the deployments: what Serve asks every few seconds before replacing a replica."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from configs.settings import ToolsConfig
from llm.transformers_engine import TransformersEngine
from serve_app.model_server import ModelServer
from serve_app.tool_executor import ToolExecutor
from tools.registry import ToolRegistry


def model_server(engine=None):
    server = object.__new__(ModelServer.func_or_class)
    server._engine = engine
    return server


def transformers_engine(loaded, failed_steps: int = 0) -> TransformersEngine:
    engine = object.__new__(TransformersEngine)
    engine.loaded, engine._failed_steps = loaded, failed_steps
    return engine


def broken_engine(why: str):
    def check_health():
        raise RuntimeError(why)

    # check_health re-sets the queue depth gauge from the engine's counters
    return SimpleNamespace(counters=lambda: {"waiting": 0}, check_health=check_health)


def test_a_model_server_without_a_model_is_healthy():
    model_server().check_health()  # it answers 404 until /model/load: a state, not a fault


def test_a_model_server_whose_engine_is_broken_is_unhealthy():
    with pytest.raises(RuntimeError, match="llama.cpp requests all failed"):
        model_server(broken_engine("the last 3 llama.cpp requests all failed")).check_health()


def test_an_engine_that_lost_its_weights_is_unhealthy():
    loaded = SimpleNamespace(model=None, tokenizer=object(), model_path="m", device="cpu")
    with pytest.raises(RuntimeError, match="lost its weights"):
        transformers_engine(loaded).check_health()


def test_generation_failing_step_after_step_is_unhealthy():
    loaded = SimpleNamespace(model=object(), tokenizer=object(), model_path="m", device="cpu")
    transformers_engine(loaded, failed_steps=2).check_health()
    with pytest.raises(RuntimeError, match="3 decode steps"):
        transformers_engine(loaded, failed_steps=3).check_health()


def test_a_tool_executor_with_an_emptied_registry_is_unhealthy():
    executor = object.__new__(ToolExecutor.func_or_class)
    config = ToolsConfig(functions=["tools.builtin.calculator:calculate"])
    executor._registry = ToolRegistry.from_config(config)
    executor.check_health()
    executor._registry._tools.clear()
    with pytest.raises(RuntimeError, match="none of its configured tools"):
        executor.check_health()
