"""Every HTTP answer is counted by route template, method and status, refusals of the Guard and
crashes included, without a raw path ever becoming a label (no Ray).

Bad inputs tried: an unknown path, a wrong method, no API key, an endpoint that raises."""

from __future__ import annotations

import httpx
import pytest
import yaml
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles

from configs.store import ConfigStore
from serve_app import metrics
from serve_app.api_keys import KeyRing
from serve_app.guard import Guard
from serve_app.rate_limit import RateLimiter
from serve_app.request_metrics import RequestMetrics

KEY = "test-key-0123456789"

pytestmark = pytest.mark.anyio


@pytest.fixture
def recorded(monkeypatch) -> list[tuple[str, str, int]]:
    calls: list[tuple[str, str, int]] = []

    def record(route: str, method: str, status: int, seconds: float) -> None:
        assert seconds >= 0
        calls.append((route, method, status))

    monkeypatch.setattr(metrics, "record_request", record)
    return calls


@pytest.fixture
def app(tmp_path, monkeypatch) -> FastAPI:
    """Like the ingress: API routes in a router, a plain route and a mount, the Guard with a key,
    and the metrics middleware outside it."""
    monkeypatch.setenv("METRICS_TEST_KEYS", KEY)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"security": {"api_keys_env": "METRICS_TEST_KEYS"}}))
    router = APIRouter()

    @router.get("/training/jobs/{job_id}")
    async def job(job_id: str) -> dict:
        raise HTTPException(404, f"no job {job_id}")

    @router.post("/chat")
    async def chat() -> dict:
        return {"ok": True}

    @router.get("/crash")
    async def crash() -> dict:
        raise RuntimeError("a bug")

    async def plain(request: Request) -> PlainTextResponse:
        return PlainTextResponse("plain")

    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "index.html").write_text("<html></html>")
    api = FastAPI()
    api.include_router(router)
    api.add_route("/mcp", plain, methods=["POST"])
    api.mount("/ui", StaticFiles(directory=tmp_path / "static"), name="ui")
    store = ConfigStore(str(config_file), str(tmp_path / "overrides.yaml"))
    api.add_middleware(Guard, config=store, keyring=KeyRing(), limiter=RateLimiter())
    api.add_middleware(RequestMetrics, routes=api.routes)
    return api


def client(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)


async def test_answers_are_counted_by_route_template_method_and_status(app, recorded):
    async with client(app, Authorization=f"Bearer {KEY}") as http:
        assert (await http.post("/chat")).status_code == 200
        assert (await http.get("/training/jobs/job-1")).status_code == 404
        assert (await http.get("/training/jobs/job-2")).status_code == 404
        assert (await http.get("/chat")).status_code == 405
        assert (await http.post("/mcp")).status_code == 200
        assert (await http.get("/ui/index.html")).status_code == 200
        assert (await http.get("/no/such/path")).status_code == 404
    assert recorded == [
        ("/chat", "POST", 200),
        ("/training/jobs/{job_id}", "GET", 404),
        ("/training/jobs/{job_id}", "GET", 404),
        ("/chat", "GET", 405),
        ("/mcp", "POST", 200),
        ("/ui", "GET", 200),
        ("unrouted", "GET", 404),
    ]


async def test_guard_refusals_are_counted(app, recorded):
    async with client(app) as http:
        assert (await http.post("/chat")).status_code == 401
        assert (await http.post("/mcp")).status_code == 401
    # An API route is known only once routed; the Guard answered before that.
    assert recorded == [("unrouted", "POST", 401), ("/mcp", "POST", 401)]


async def test_a_crash_counts_as_500(app, recorded):
    async with client(app, Authorization=f"Bearer {KEY}") as http:
        assert (await http.get("/crash")).status_code == 500
    assert recorded == [("/crash", "GET", 500)]
