"""The replica's decode loop: a request that arrives while another decodes joins its batch at
once (it does not wait for it to end), gets the reply it would get alone, and a request whose
client left before it joined never starts.

Bad input tried: a request whose adapter cannot be attached, and one whose prompt is too long;
each fails alone while the batch goes on.
"""

from __future__ import annotations

import threading

import pytest

from configs.settings import ModelConfig
from llm.decode_batch import IncrementalText, generate_batch
from llm.decode_loop import DecodeLoop, StepReport
from llm.generation import (
    GenerationCancelledError,
    GenerationRequest,
    GenerationResult,
    PromptTooLongError,
)
from llm.loading import load_model


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(str(tiny_model_dir), None, ModelConfig(device="cpu", cpu_quantization="none"))


class Replica:
    """A decode loop with the hooks a ModelServer gives it, recording each step's rows."""

    def __init__(self, refuse: set[str] = frozenset()) -> None:
        self.steps: list[StepReport | Exception] = []
        self.first_step = threading.Event()
        self.refuse = refuse
        self.loop = DecodeLoop(max_rows=4, prepare=self.prepare, on_step=self.on_step)

    def prepare(self, loaded, requests):
        return {
            i: RuntimeError("adapter missing")
            for i, r in enumerate(requests)
            if r.messages[0]["content"] in self.refuse
        }

    def on_step(self, report):
        self.steps.append(report)
        self.first_step.set()


def ask(text: str, max_new_tokens: int, **settings) -> GenerationRequest:
    return GenerationRequest(
        messages=[{"role": "user", "content": text}], max_new_tokens=max_new_tokens, **settings
    )


def test_a_late_request_joins_the_running_batch(loaded):
    replica = Replica()
    long, late = ask("hello", 400), ask("what time is it", 8)
    first = replica.loop.submit(loaded, long, threading.Event())
    assert replica.first_step.wait(30)
    second = replica.loop.submit(loaded, late, threading.Event())
    late_result = second.result(timeout=60)
    assert not first.done(), "the late request waited for the long one to end"
    assert late_result.text == generate_batch(loaded, [late])[0].text
    assert isinstance(first.result(timeout=120), GenerationResult)
    rows = [s.rows for s in replica.steps if isinstance(s, StepReport)]
    assert max(rows) == 2 and rows[-1] == 1  # decoded together, then the long one alone


def test_a_request_whose_client_left_never_starts(loaded):
    replica = Replica()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(GenerationCancelledError):
        replica.loop.submit(loaded, ask("hello", 5), cancel).result(timeout=30)
    assert all(s.rows == 0 for s in replica.steps)


def test_requests_that_cannot_run_fail_alone(loaded):
    replica = Replica(refuse={"needs an adapter"})
    futures = [
        replica.loop.submit(loaded, ask("needs an adapter", 4), threading.Event()),
        replica.loop.submit(loaded, ask("x " * 50, 4, max_length=20), threading.Event()),
        replica.loop.submit(loaded, ask("hello", 4), threading.Event()),
    ]
    with pytest.raises(RuntimeError, match="adapter missing"):
        futures[0].result(timeout=30)
    with pytest.raises(PromptTooLongError):
        futures[1].result(timeout=30)
    assert futures[2].result(timeout=30).completion_tokens == 4


def test_a_stream_hands_out_the_text_of_the_plain_reply(loaded):
    replica = Replica()
    streamed = IncrementalText(loaded.tokenizer)
    pieces: list[str] = []
    request = ask("计算 15 * 23 的结果", 12)
    future = replica.loop.submit(
        loaded, request, threading.Event(), lambda token: pieces.append(streamed.add(token))
    )
    text = future.result(timeout=30).text
    assert "".join(pieces) + streamed.rest() == text
    assert len([p for p in pieces if p]) > 1, "the text came in pieces, not at the end"


def test_a_cancelled_stream_stops_at_its_next_step(loaded):
    replica = Replica()
    cancel, tokens = threading.Event(), []

    def read(token: int) -> None:
        tokens.append(token)
        if len(tokens) == 3:
            cancel.set()  # the client leaves after 3 tokens

    future = replica.loop.submit(loaded, ask("hello", 1500), cancel, read)
    with pytest.raises(GenerationCancelledError):
        future.result(timeout=30)
    assert len(tokens) <= 4
