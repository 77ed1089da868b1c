"""The ingress guard as ASGI middleware, on a small FastAPI app (no Ray).

Bad inputs tried: no Authorization header, a wrong key, a non-numeric Content-Length, a body
over the limit with and without Content-Length (chunked), a burst past the rate limit, a key
file deleted at run time. /health must stay open; /v1 errors must keep OpenAI's shape.
"""

from __future__ import annotations

import httpx
import pytest
import yaml
from fastapi import FastAPI, Request

from configs.store import ConfigStore
from serve_app.api_keys import KeyRing
from serve_app.guard import Guard
from serve_app.rate_limit import RateLimiter

KEY = "test-key-0123456789"

pytestmark = pytest.mark.anyio


def guarded_app(tmp_path, security: dict) -> FastAPI:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"security": security}))
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict:
        return {"ok": True}

    @app.post("/echo")
    @app.post("/v1/echo")
    async def echo(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    store = ConfigStore(str(config_file), str(tmp_path / "overrides.yaml"))
    app.add_middleware(Guard, config=store, keyring=KeyRing(), limiter=RateLimiter())
    return app


def client(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
    )


@pytest.fixture
def keyed_app(tmp_path, monkeypatch):
    monkeypatch.setenv("GUARD_TEST_KEYS", KEY)
    return guarded_app(tmp_path, {"api_keys_env": "GUARD_TEST_KEYS", "max_body_bytes": 100})


async def test_keys_are_required_except_on_health(keyed_app):
    async with client(keyed_app) as http:
        assert (await http.get("/health")).status_code == 200
        missing = await http.post("/echo", content=b"x")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert "missing" in missing.json()["detail"]
        wrong = await http.post("/echo", content=b"x", headers={"Authorization": "Bearer nope"})
        assert (
            wrong.status_code == 401
            and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
        )
        openai = await http.post("/v1/echo", content=b"x")
        assert openai.json()["error"]["type"] == "authentication_error"
        ok = await http.post("/echo", content=b"xy", headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200 and ok.json() == {"bytes": 2}


async def test_big_bodies_are_refused_with_or_without_length(keyed_app):
    async with client(keyed_app, Authorization=f"Bearer {KEY}") as http:
        assert (await http.post("/echo", content=b"x" * 100)).status_code == 200
        declared = await http.post("/echo", content=b"x" * 101)
        assert declared.status_code == 413 and "max_body_bytes" in declared.json()["detail"]
        bad_length = await http.post("/echo", content=b"x", headers={"Content-Length": "-1"})
        assert bad_length.status_code in (400, 413)

        async def chunks():
            for _ in range(5):
                yield b"x" * 40

        chunked = await http.post("/echo", content=chunks())
        assert chunked.status_code == 413
        assert (await http.post("/echo", content=b"ok")).status_code == 200


async def test_rate_limit_answers_429_with_retry_after(tmp_path):
    app = guarded_app(tmp_path, {"rate_limit_per_s": 0.5, "rate_limit_burst": 3})
    async with client(app) as http:
        codes = [(await http.post("/echo", content=b"x")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = await http.post("/v1/echo", content=b"x")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert (await http.get("/health")).status_code == 200


async def test_a_vanished_key_file_closes_the_door(tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text(KEY + "\n")
    app = guarded_app(tmp_path, {"api_keys_env": "GUARD_UNSET_VAR", "api_keys_file": str(key_file)})
    async with client(app, Authorization=f"Bearer {KEY}") as http:
        assert (await http.post("/echo", content=b"x")).status_code == 200
        key_file.unlink()
        assert (await http.post("/echo", content=b"x")).status_code == 503
