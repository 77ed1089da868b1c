"""Outgoing tool traffic: only public addresses, unless a host or CIDR is allowed in config.

SSRF attempts tried: loopback by name and number (127.0.0.1, 127.1.2.3, localhost, [::1]),
RFC 1918 (10/8, 172.16/12, 192.168/16), link-local cloud metadata (169.254.169.254, fe80::),
carrier-grade NAT (100.64/10), unspecified (0.0.0.0), IPv4-mapped IPv6 (::ffff:127.0.0.1),
multicast, a name that does not resolve, non-HTTP schemes, a URL without host, and a redirect
from an allowed stub to a refused address.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from configs.settings import ToolsConfig
from tests.json_stub import JsonStub
from tools.builtin.http_json import get_json
from tools.builtin.search import web_search
from tools.net_guard import BlockedAddressError, check_url, is_public, resolve

REFUSED = [
    "http://127.0.0.1/",
    "http://127.1.2.3:8000/x",
    "http://localhost:9/",
    "http://[::1]/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://[::ffff:127.0.0.1]/",
    "http://224.0.0.1/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_and_link_local_addresses_are_refused(url):
    with pytest.raises(BlockedAddressError, match="tools.allowed_hosts"):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://example.org/", "file:///etc/passwd", "http:///path", "gopher://x"]
)
def test_other_schemes_and_hostless_urls_are_refused(url):
    with pytest.raises(BlockedAddressError):
        check_url(url)


def test_a_name_that_does_not_resolve_is_refused():
    with pytest.raises(BlockedAddressError, match="does not resolve"):
        check_url("http://no-such-host.invalid/")


def test_public_addresses_pass():
    check_url("http://8.8.8.8/")
    check_url("https://[2606:4700:4700::1111]/dns-query")
    assert is_public(resolve("1.1.1.1")[0])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8000/", ["127.0.0.1"]),
        ("http://127.0.0.1:8000/", ["127.0.0.0/8"]),
        ("http://localhost:8000/", ["localhost"]),
        ("http://10.1.2.3/", ["10.0.0.0/8"]),
        ("http://[::1]/", ["::1/128"]),
    ],
)
def test_allowed_hosts_and_cidrs_open_exactly_what_they_name(url, allowed):
    check_url(url, allowed)


def test_an_allowed_cidr_does_not_open_others():
    with pytest.raises(BlockedAddressError, match="192.168.0.1"):
        check_url("http://192.168.0.1/", ["10.0.0.0/8", "localhost"])


def test_network_tools_refuse_loopback_without_touching_it():
    with JsonStub(lambda path, query: (200, {"results": []})) as stub:
        with pytest.raises(BlockedAddressError):
            web_search("ray", config=ToolsConfig(search_url=f"{stub.url}/search"))
        assert stub.requests == []


@pytest.fixture
def redirecting_server():
    """A loopback server that redirects every GET to the cloud metadata address."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_to_a_refused_address_is_not_followed(redirecting_server):
    url, hits = redirecting_server
    with pytest.raises(BlockedAddressError, match="169.254.169.254"):
        get_json(url, {}, timeout_s=2, service="stub", allowed_hosts=["127.0.0.1"])
    assert hits == ["/"]
