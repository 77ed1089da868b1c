"""Shared test fixtures: a tiny model built once per session; asyncio for anyio tests."""

from __future__ import annotations

import pytest

from tests.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen2")


@pytest.fixture
def anyio_backend():
    return "asyncio"
