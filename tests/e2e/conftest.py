"""Each e2e module defines an ``app`` fixture (one `serve run` per module); this talks to it."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture(scope="module")
def client(app):
    with httpx.Client(base_url=app.url, timeout=120) as http:
        yield http
