"""web_search against a loopback server that answers like SearxNG's JSON API."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from configs.settings import ToolsConfig
from tests.json_stub import JsonStub
from tools.builtin.search import web_search
from tools.errors import ToolInputError, ToolUnavailableError

RESULTS = [
    {"title": f"Ray result {i}", "url": f"https://example.org/{i}", "content": f"snippet {i}"}
    for i in range(8)
]

LOOPBACK = ["127.0.0.1"]


def searx(path: str, query: dict[str, str]) -> tuple[int, object]:
    return 200, {"query": query["q"], "results": RESULTS} if path == "/search" else {"x": 1}


@pytest.fixture(scope="module")
def stub() -> Iterator[JsonStub]:
    with JsonStub(searx) as server:
        yield server


@pytest.fixture
def base_url(stub: JsonStub) -> str:
    stub.requests.clear()
    return stub.url


def test_returns_the_first_results_as_title_url_snippet(base_url, stub):
    config = ToolsConfig(
        allowed_hosts=LOOPBACK, search_url=f"{base_url}/search", max_search_results=3
    )
    answer = web_search("ray serve 教程", config=config)
    assert answer["query"] == "ray serve 教程"
    assert answer["results"] == [
        {"title": f"Ray result {i}", "url": f"https://example.org/{i}", "snippet": f"snippet {i}"}
        for i in range(3)
    ]
    assert stub.requests[-1] == ("/search", {"q": "ray serve 教程", "format": "json"})


def test_without_search_url_it_says_what_to_configure():
    with pytest.raises(ToolUnavailableError, match="set tools.search_url") as error:
        web_search("ray", config=ToolsConfig(search_url=None))
    assert str(error.value).startswith(
        "The search service could not be reached, so the answer cannot include live data"
    )


def test_unreachable_endpoint_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ToolsConfig(
        allowed_hosts=LOOPBACK, search_url=f"http://127.0.0.1:{port}/search", http_timeout_s=0.3
    )
    with pytest.raises(ToolUnavailableError, match="search service could not be reached"):
        web_search("ray", config=config)


def test_offline_it_says_fast_that_there_are_no_live_results():
    started = time.monotonic()
    with pytest.raises(ToolUnavailableError, match="could not be reached.*does not resolve"):
        web_search("ray", config=ToolsConfig(search_url="https://searx.invalid/search"))
    assert time.monotonic() - started < 1.0


def test_an_endpoint_answering_otherwise_is_unavailable(base_url):
    with pytest.raises(ToolUnavailableError, match="without a results list"):
        web_search(
            "ray", config=ToolsConfig(allowed_hosts=LOOPBACK, search_url=f"{base_url}/other")
        )


def test_empty_query_is_an_input_error(base_url):
    with pytest.raises(ToolInputError, match="empty"):
        web_search(
            "  ", config=ToolsConfig(allowed_hosts=LOOPBACK, search_url=f"{base_url}/search")
        )
