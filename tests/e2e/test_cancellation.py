"""A client that leaves stops its generation: over HTTP, against the real app.

20 streams at once, 5 cut by their client after the first chunk: the cut ones stop decoding
within 2 s (the replica's counters say so), the other 15 end with the same text as alone, and
the next request is served at once. A plain /chat whose client gives up stops its batch row
the same way.

Cases tried: streams (/v1 SSE) cut after their first chunk, a plain /chat whose client times
out mid-reply.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.gguf_models import served_model
from tests.serve_process import ServeApp

pytestmark = pytest.mark.slow

STREAMS, CUT = 20, 5
# The untrained tiny model rarely says eos: a cut stream would decode its 1500 tokens for many
# seconds, a kept one ends at its 40.
KEPT_TOKENS, CUT_TOKENS = 40, 1500


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_model_dir, engine):
    model = served_model(engine, tiny_model_dir, tmp_path_factory)
    config = {
        "model": {"model_path": str(model), "engine": engine},
        "server": {"max_new_tokens": CUT_TOKENS},
    }
    with ServeApp(tmp_path_factory.mktemp("cancellation"), config).start() as serve_app:
        yield serve_app


@pytest.fixture(scope="module")
def model(client):
    return client.get("/v1/models").json()["data"][0]["id"]


def body(model: str, index: int, max_tokens: int, stream: bool) -> dict:
    messages = [{"role": "user", "content": f"question number {index}: what is {index} + 1?"}]
    return {"model": model, "messages": messages, "max_tokens": max_tokens, "stream": stream}


def stream_text(url: str, request: dict, cut: threading.Event | None = None) -> str:
    """The content of a /v1 stream; with ``cut``, close the connection after the first chunk
    and set ``cut``."""
    text = ""
    with (
        httpx.Client(base_url=url, timeout=120) as http,
        http.stream("POST", "/v1/chat/completions", json=request) as answer,
    ):
        assert answer.status_code == 200
        for line in answer.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            delta = json.loads(line[6:])["choices"][0]["delta"]
            text += delta.get("content") or ""
            if cut is not None and text:
                break
    if cut is not None:
        cut.set()  # the client closed its connection on leaving both blocks
    return text


def counters(client: httpx.Client) -> dict:
    info = client.get("/model/info").json()
    return {k: info[k] for k in ("generations_running", "generations_cancelled")}


def wait_for(condition, timeout_s: float, client: httpx.Client) -> tuple[dict, float]:
    started = time.monotonic()
    while True:
        seen = counters(client)
        if condition(seen) or time.monotonic() - started > timeout_s:
            return seen, time.monotonic() - started
        time.sleep(0.05)


def test_cut_streams_stop_and_the_others_keep_their_text(app, client, model):
    kept = [i for i in range(STREAMS) if i % 4 != 0]
    cut = [i for i in range(STREAMS) if i % 4 == 0]
    alone = {i: stream_text(app.url, body(model, i, KEPT_TOKENS, True)) for i in kept}
    before = counters(client)["generations_cancelled"]

    cut_events = {i: threading.Event() for i in cut}
    with ThreadPoolExecutor(STREAMS) as pool:
        futures = {
            i: pool.submit(
                stream_text,
                app.url,
                body(model, i, CUT_TOKENS if i in cut else KEPT_TOKENS, True),
                cut_events.get(i),
            )
            for i in range(STREAMS)
        }
        for event in cut_events.values():
            assert event.wait(120), "a stream to cut sent no content"
        seen, waited = wait_for(
            lambda c: c["generations_cancelled"] - before >= CUT, 2.0 + 1.0, client
        )
        assert seen["generations_cancelled"] - before == CUT, seen
        assert waited <= 2.0, f"the cut streams stopped decoding only after {waited:.1f} s"
        together = {i: futures[i].result() for i in kept}
    assert together == alone

    # Nothing is left decoding, and the next request is served at once.
    assert counters(client)["generations_running"] == 0
    started = time.monotonic()
    answer = client.post("/v1/chat/completions", json=body(model, 99, 4, False))
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started < 5.0


def test_a_plain_chat_whose_client_left_stops_its_row(app, client):
    before = counters(client)["generations_cancelled"]
    request = {"messages": [{"role": "user", "content": "hi"}], "max_new_tokens": CUT_TOKENS}
    with (
        httpx.Client(base_url=app.url, timeout=httpx.Timeout(120, read=1.0)) as http,
        pytest.raises(httpx.ReadTimeout),
    ):
        http.post("/chat", json=request)
    seen, waited = wait_for(lambda c: c["generations_cancelled"] > before, 3.0, client)
    assert seen["generations_cancelled"] == before + 1, seen
    assert waited <= 2.0
    assert seen["generations_running"] == 0


def test_model_info_names_the_engine_that_serves(client, engine):
    info = client.get("/model/info").json()
    assert info["engine"] == engine
    assert info["quantization"] == ("gguf all_f32" if engine == "llamacpp" else "none")
