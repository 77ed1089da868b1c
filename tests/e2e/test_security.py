"""Keys, limits, backpressure and deadlines of the real app over HTTP.

One app: API keys from the environment, a 4 KiB body limit, 1 request/s (burst 20) per key, a
3 s generation deadline, and a model server that takes one request at a time with one queued,
serving the untrained tiny model (it rarely stops by itself, so a long reply is slow).

Bad inputs tried: no Authorization header, a wrong key, a key for another scheme (Basic),
/docs, /openapi.json and /mcp without a key, a wrong key through the openai client, a body over
the limit on /chat and /v1, a burst past the rate limit, more concurrent chats than the model
server runs and queues, a reply longer than the deadline allows (plain and streamed), max_tokens
and max_new_tokens over server.max_new_tokens, too many /v1 messages, /config/update setting keys
or the key env.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.serve_process import ServeApp

pytestmark = pytest.mark.slow

KEY = "sk-test-main-5f1c0e2d"
RATE_KEY = "sk-test-rate-9a8b7c6d"
LOAD_KEY = "sk-test-load-1234abcd"
HF_TOKEN = "hf_test_token_never_shown"
DEADLINE_S = 3.0


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_model_dir):
    workdir = tmp_path_factory.mktemp("security")
    config = {
        "model": {"model_path": str(tiny_model_dir)},
        "generation": {"max_new_tokens": 4},
        "server": {"max_messages": 5, "max_new_tokens": 1500},
        "security": {
            "api_keys_env": "MCP_TUNE_TEST_KEYS",
            "max_body_bytes": 4096,
            "rate_limit_per_s": 1.0,
            "rate_limit_burst": 20,
            "generation_timeout_s": DEADLINE_S,
        },
    }
    with ServeApp(
        workdir,
        config,
        env={"MCP_TUNE_TEST_KEYS": f"{KEY},{RATE_KEY}, {LOAD_KEY}", "HF_TOKEN": HF_TOKEN},
        deployments={
            "ModelServer": {
                "max_ongoing_requests": 1,
                "max_queued_requests": 1,
                "user_config": {"max_batch_size": 1},
            }
        },
    ).start() as serve_app:
        yield serve_app


@pytest.fixture(scope="module")
def client(app):
    with httpx.Client(
        base_url=app.url, timeout=120, headers={"Authorization": f"Bearer {KEY}"}
    ) as http:
        yield http


def chat(http: httpx.Client, max_new_tokens: int, **headers: str) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_new_tokens": max_new_tokens}
    return http.post("/chat", json=body, headers=headers)


def test_every_route_but_health_needs_a_key(app):
    with httpx.Client(base_url=app.url, timeout=30) as anonymous:
        assert anonymous.get("/health").status_code == 200
        for method, path in [
            ("GET", "/"),
            ("GET", "/status"),
            ("GET", "/config"),
            ("GET", "/docs"),
            ("GET", "/openapi.json"),
            ("POST", "/mcp"),
            ("GET", "/v1/models"),
        ]:
            answer = anonymous.request(method, path)
            assert answer.status_code == 401, path
            assert answer.headers["WWW-Authenticate"].startswith("Bearer"), path
        wrong = anonymous.get("/tools", headers={"Authorization": "Bearer sk-wrong"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid API key"
        basic = anonymous.get("/tools", headers={"Authorization": f"Basic {KEY}"})
        assert basic.status_code == 401
        assert anonymous.get("/v1/models").json()["error"]["type"] == "authentication_error"


def test_a_key_opens_every_route(client):
    assert client.get("/tools").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_openai_client_sends_its_api_key_as_bearer(app):
    good = openai.OpenAI(base_url=f"{app.url}/v1", api_key=KEY, max_retries=0)
    [model] = good.models.list().data
    reply = good.chat.completions.create(
        model=model.id, messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert reply.choices[0].message is not None
    bad = openai.OpenAI(base_url=f"{app.url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_big_bodies_are_refused_before_parsing(client):
    padding = "x" * 5000
    big = client.post("/chat", json={"messages": [{"role": "user", "content": padding}]})
    assert big.status_code == 413 and "max_body_bytes" in big.json()["detail"]
    big_v1 = client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": padding}]},
    )
    assert big_v1.status_code == 413 and "error" in big_v1.json()


def test_requests_over_the_caps_are_refused(client):
    model = client.get("/v1/models").json()["data"][0]["id"]
    over = chat(client, 1501)
    assert over.status_code == 400 and "server.max_new_tokens" in over.json()["detail"]
    v1 = client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1501},
    )
    assert v1.status_code == 400 and v1.json()["error"]["param"] == "max_tokens"
    many = client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}] * 6},
    )
    assert many.status_code == 400 and "server.max_messages" in many.json()["error"]["message"]


def test_a_burst_past_the_rate_limit_gets_429_with_retry_after(client):
    headers = {"Authorization": f"Bearer {RATE_KEY}"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.get("/tools", headers=headers), range(40)))
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert "rate limit" in limited[0].json()["detail"]
    assert {a.status_code for a in answers} <= {200, 429}
    # Another key has its own bucket.
    assert client.get("/tools").status_code == 200


def test_a_generation_past_its_deadline_ends_and_the_next_request_succeeds(client):
    started = time.monotonic()
    slow = chat(client, 1500)
    elapsed = time.monotonic() - started
    assert slow.status_code == 504, slow.text
    assert "generation_timeout_s" in slow.json()["detail"]
    assert elapsed < DEADLINE_S + 30  # it ended at the deadline, not after 1500 tokens
    assert chat(client, 2).status_code == 200


def test_a_stream_past_its_deadline_ends_with_an_error_event(app, client):
    """The 200 and the first chunks are out: the deadline reaches the client as an error in the
    stream (the openai client raises it), never as a reply that merely stops."""
    sdk = openai.OpenAI(base_url=f"{app.url}/v1", api_key=KEY, max_retries=0)
    model = sdk.models.list().data[0].id
    started = time.monotonic()
    stream = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=1500, stream=True
    )
    with pytest.raises(openai.APIError, match="generation_timeout_s"):
        for _ in stream:
            pass
    assert time.monotonic() - started < DEADLINE_S + 30
    assert chat(client, 2).status_code == 200


def test_overload_answers_503_with_retry_after_then_recovers(client):
    """One running and one queued chat fill the model server; the rest are refused at once."""
    headers = {"Authorization": f"Bearer {LOAD_KEY}"}
    assert client.get("/health").json()["model_loaded"] is True
    with ThreadPoolExecutor(9) as pool:
        chats = [pool.submit(chat, client, 1500, **headers) for _ in range(8)]
        # Asked while the model server is full: liveness must not fail with it.
        health = pool.submit(client.get, "/health").result()
        answers = [answer.result() for answer in chats]
    assert health.status_code == 200 and health.json()["model_loaded"] is True, health.text
    codes = [a.status_code for a in answers]
    assert set(codes) <= {503, 504}, codes
    refused = [a for a in answers if a.status_code == 503]
    assert refused, codes
    assert int(refused[0].headers["Retry-After"]) >= 1  # backpressure_config.retry_after_s
    assert "at capacity" in refused[0].json()["detail"]
    assert chat(client, 2, **headers).status_code == 200


def test_config_never_shows_keys_or_tokens(client):
    shown = client.get("/config")
    assert shown.status_code == 200
    for secret in (KEY, RATE_KEY, LOAD_KEY, HF_TOKEN):
        assert secret not in shown.text
    assert shown.json()["security"]["api_keys_env"] == "MCP_TUNE_TEST_KEYS"


@pytest.mark.parametrize(
    "update",
    [
        {"security": {"api_keys": ["sk-mine"]}},
        {"security": {"api_keys_env": "SOME_UNSET_VARIABLE"}},
        {"security": {"rate_limit_per_s": 0}},
    ],
)
def test_config_update_cannot_change_keys_or_limits(client, update):
    refused = client.post("/config/update", json=update)
    assert refused.status_code == 400 and "security" in refused.json()["detail"]
    assert client.get("/config").json()["security"]["rate_limit_per_s"] == 1.0
    assert client.get("/tools", headers={"Authorization": "Bearer sk-mine"}).status_code == 401
