"""A generation deadline ends a stuck reply, per row of a batch, and frees the call.

Bad inputs tried: a deadline already passed when the batch starts (it waited in the queue), a
deadline far shorter than the asked tokens take, mixed with a row without a deadline in the
same generate call (that row must finish normally).
"""

from __future__ import annotations

import pickle
import time

import pytest

from configs.settings import ModelConfig
from llm.decode_batch import generate_batch
from llm.generation import GenerationRequest, GenerationTimeoutError
from llm.loading import load_model


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(str(tiny_model_dir), None, ModelConfig(device="cpu", cpu_quantization="none"))


def request(**fields) -> GenerationRequest:
    return GenerationRequest(messages=[{"role": "user", "content": "hello"}], **fields)


def test_a_passed_deadline_fails_before_generating(loaded):
    [result] = generate_batch(loaded, [request(deadline=time.time() - 1)])
    assert isinstance(result, GenerationTimeoutError)
    assert "generation_timeout_s" in str(result)


def test_a_far_deadline_does_not_cut_a_short_reply(loaded):
    """Deadlines are epoch seconds: compared in float32 they would round by up to 64 s."""
    [result] = generate_batch(loaded, [request(max_new_tokens=3, deadline=time.time() + 5)])
    assert not isinstance(result, Exception) and result.completion_tokens <= 3


def test_the_timeout_survives_pickling():
    """Ray rebuilds a replica's exception in the ingress from its args."""
    error = pickle.loads(pickle.dumps(GenerationTimeoutError()))
    assert isinstance(error, GenerationTimeoutError) and "generation_timeout_s" in str(error)


def test_deadline_stops_only_its_own_row(loaded):
    """The 5-token row ends at its own budget, the other at its deadline: the call ends then
    (before rows stopped at their budget, a short row decoded as long as the longest one)."""
    # The untrained tiny model rarely says eos: 1500 tokens take seconds, far over 0.3 s.
    slow, short = generate_batch(
        loaded,
        [
            request(max_new_tokens=1500, deadline=time.time() + 0.3),
            request(max_new_tokens=5),
        ],
    )
    assert isinstance(slow, GenerationTimeoutError)
    assert not isinstance(short, Exception) and short.completion_tokens <= 5
