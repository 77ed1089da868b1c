"""web_search against a loopback server that answers like SearxNG's JSON API."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from configs.settings import ToolsConfig
from tools.builtin.search import web_search
from tools.errors import ToolInputError, ToolUnavailableError

RESULTS = [
    {"title": f"Ray result {i}", "url": f"https://example.org/{i}", "content": f"snippet {i}"}
    for i in range(8)
]


class SearxHandler(BaseHTTPRequestHandler):
    queries: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.queries.append(query)
        body = {"query": query["q"], "results": RESULTS} if url.path == "/search" else {"x": 1}
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SearxHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_returns_the_first_results_as_title_url_snippet(base_url):
    config = ToolsConfig(search_url=f"{base_url}/search", max_search_results=3)
    answer = web_search("ray serve 教程", config=config)
    assert answer["query"] == "ray serve 教程"
    assert answer["results"] == [
        {"title": f"Ray result {i}", "url": f"https://example.org/{i}", "snippet": f"snippet {i}"}
        for i in range(3)
    ]
    assert SearxHandler.queries[-1] == {"q": "ray serve 教程", "format": "json"}


def test_without_search_url_it_says_what_to_configure():
    with pytest.raises(ToolUnavailableError, match="set tools.search_url"):
        web_search("ray", config=ToolsConfig(search_url=None))


def test_unreachable_endpoint_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ToolsConfig(search_url=f"http://127.0.0.1:{port}/search", http_timeout_s=0.3)
    with pytest.raises(ToolUnavailableError, match="search service unreachable"):
        web_search("ray", config=config)


def test_an_endpoint_answering_otherwise_is_unavailable(base_url):
    with pytest.raises(ToolUnavailableError, match="without a results list"):
        web_search("ray", config=ToolsConfig(search_url=f"{base_url}/other"))


def test_empty_query_is_an_input_error(base_url):
    with pytest.raises(ToolInputError, match="empty"):
        web_search("  ", config=ToolsConfig(search_url=f"{base_url}/search"))
