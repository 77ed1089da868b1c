"""The web console's files: served at /ui without a key while the API beside them keeps needing
one, every file the page loads is shipped, and the package data takes them all (no Ray; the
console itself is driven in a browser by tests/e2e/test_console.py).

Bad inputs tried: /ui/../secret as a raw path, a path that only starts like /ui (/uix), a POST
to the page.
"""

from __future__ import annotations

import re
import tomllib

import httpx
import pytest
import yaml
from fastapi import FastAPI

from configs.settings import PROJECT_ROOT
from configs.store import ConfigStore
from serve_app.api_keys import KeyRing
from serve_app.console import STATIC_DIR, mount_console
from serve_app.guard import Guard
from serve_app.rate_limit import RateLimiter

KEY = "console-test-key-0123456789"

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(tmp_path, monkeypatch) -> FastAPI:
    monkeypatch.setenv("CONSOLE_TEST_KEYS", KEY)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"security": {"api_keys_env": "CONSOLE_TEST_KEYS"}}))
    app = FastAPI()

    @app.get("/secret")
    @app.get("/uix")
    async def secret() -> dict:
        return {"secret": True}

    mount_console(app)
    store = ConfigStore(str(config_file), str(tmp_path / "overrides.yaml"))
    app.add_middleware(Guard, config=store, keyring=KeyRing(), limiter=RateLimiter())
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_page_and_files_load_without_a_key(app):
    async with client(app) as anonymous:
        redirect = await anonymous.get("/ui")
        assert redirect.status_code == 307 and redirect.headers["location"].endswith("/ui/")
        page = await anonymous.get("/ui/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        script = await anonymous.get("/ui/main.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert (await anonymous.post("/ui/")).status_code == 405


async def test_the_api_beside_the_console_still_needs_the_key(app):
    async with client(app) as anonymous:
        assert (await anonymous.get("/secret")).status_code == 401
        assert (await anonymous.get("/uix")).status_code == 401
        keyed = await anonymous.get("/secret", headers={"Authorization": f"Bearer {KEY}"})
        assert keyed.json() == {"secret": True}


async def test_dot_segments_under_ui_reach_no_route(app):
    """A raw /ui/../secret passes the guard as a console path, so it must stay in the console."""
    sent = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/ui/../secret",
        "raw_path": b"/ui/../secret",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 404
    assert b"secret" not in b"".join(m.get("body", b"") for m in sent[1:])


def shipped_files() -> set[str]:
    return {str(p.relative_to(STATIC_DIR)) for p in STATIC_DIR.rglob("*") if p.is_file()}


def test_every_file_the_page_loads_is_shipped():
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    wanted = set(re.findall(r'(?:src|href)="([^"#][^"]*)"', page))
    for script in STATIC_DIR.glob("*.js"):
        wanted |= set(re.findall(r'from "\./([^"]+)"', script.read_text(encoding="utf-8")))
    assert wanted, "index.html loads nothing?"
    assert wanted <= shipped_files()


def test_package_data_takes_every_console_file():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["serve_app"]
    package = PROJECT_ROOT / "serve_app"
    packaged = {
        str(path.relative_to(STATIC_DIR))
        for pattern in patterns
        for path in package.glob(pattern)
        if path.is_file()
    }
    assert packaged == shipped_files()
