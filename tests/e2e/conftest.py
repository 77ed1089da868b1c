"""Each e2e module defines an ``app`` fixture (one `serve run` per module); this talks to it.
Modules whose app takes the ``engine`` fixture run once per engine."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture(scope="module")
def client(app):
    with httpx.Client(base_url=app.url, timeout=120) as http:
        yield http


@pytest.fixture(scope="module", params=("transformers", "llamacpp"))
def engine(request) -> str:
    """The engine a parametrised module's app serves with (``model.engine``)."""
    return request.param
