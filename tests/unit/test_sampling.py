"""Sampling settings at their edges decode without failing.

Bad input tried: temperature 1.4e-45 (the smallest float32 denormal, found by schemathesis), which
turned every probability into inf and made sampling raise.
"""

from __future__ import annotations

import pytest

from configs.settings import ModelConfig
from llm.decode_batch import generate_batch
from llm.generation import GenerationRequest, GenerationResult
from llm.loading import load_model


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(str(tiny_model_dir), None, ModelConfig(device="cpu", cpu_quantization="none"))


def reply(loaded, temperature: float) -> GenerationResult:
    ask = GenerationRequest(
        messages=[{"role": "user", "content": "hello"}], temperature=temperature, max_new_tokens=8
    )
    [result] = generate_batch(loaded, [ask])
    assert isinstance(result, GenerationResult), result
    return result


def test_a_vanishing_temperature_decodes_greedily(loaded):
    assert reply(loaded, 1.401298464324817e-45).text == reply(loaded, 0.0).text
