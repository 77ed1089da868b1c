"""A cancelled request (its client left) stops decoding at once; the other rows of its batch
get exactly the tokens they would have had.

Cases tried: a row cancelled while the batch decodes, a row cancelled before the batch starts
(it was queued). Streams are rows too (``test_decode_loop``).
"""

from __future__ import annotations

import threading
import time

import pytest

from configs.settings import ModelConfig
from llm.decode_batch import generate_batch
from llm.generation import (
    GenerationCancelledError,
    GenerationRequest,
)
from llm.loading import load_model


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(str(tiny_model_dir), None, ModelConfig(device="cpu", cpu_quantization="none"))


def request(text: str, max_new_tokens: int) -> GenerationRequest:
    return GenerationRequest(
        messages=[{"role": "user", "content": text}], max_new_tokens=max_new_tokens
    )


def cancel_after(event: threading.Event, seconds: float) -> None:
    threading.Timer(seconds, event.set).start()


def test_a_cancelled_row_stops_and_the_others_keep_their_tokens(loaded):
    # The untrained tiny model rarely says eos: 1500 tokens take far longer than 0.3 s.
    rows = [request("hello", 1500), request("how are you", 12), request("what time", 12)]
    [_, alone_a, alone_b] = generate_batch(loaded, [request("hello", 1)] + rows[1:])
    cancel = threading.Event()
    cancel_after(cancel, 0.3)
    started = time.monotonic()
    slow, a, b = generate_batch(loaded, rows, [cancel, threading.Event(), threading.Event()])
    assert time.monotonic() - started < 3.0, "the cancelled row kept the batch decoding"
    assert isinstance(slow, GenerationCancelledError)
    assert (a.text, b.text) == (alone_a.text, alone_b.text)


def test_a_row_cancelled_before_the_batch_never_starts(loaded):
    cancel = threading.Event()
    cancel.set()
    gone, kept = generate_batch(
        loaded, [request("hello", 5), request("hi", 5)], [cancel, threading.Event()]
    )
    assert isinstance(gone, GenerationCancelledError)
    assert not isinstance(kept, Exception) and kept.completion_tokens <= 5
