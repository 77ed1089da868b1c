"""Keeps outgoing tool traffic off private networks (no SSRF through a tool or an MCP server URL).

Every address a URL's host resolves to must be public: loopback, private (RFC 1918, ULA),
link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast, reserved and
unspecified addresses are refused unless the host name or a CIDR holding the address is listed
in ``tools.allowed_hosts``. The check runs again on every redirect hop.

A host that resolves to a public address at check time and to a private one when the request
connects (DNS rebinding) is not caught here; the allow-list keeps the common case closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from tools.errors import ToolInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedAddressError(ToolInputError):
    """A URL leads to an address tools may not reach (private, loopback, link-local, ...)."""


class UnresolvedHostError(BlockedAddressError):
    """A URL's host name does not resolve (no such name, or no DNS: offline); nothing was sent."""


def _parse_allowed(allowed: Iterable[str]) -> tuple[set[str], list[Network]]:
    hosts: set[str] = set()
    networks: list[Network] = []
    for entry in allowed:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return hosts, networks


def is_public(address: IPAddress) -> bool:
    """True for an address on the public internet (``is_global``, and not multicast)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(host: str) -> list[IPAddress]:
    """Every address ``host`` resolves to (a literal address resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise UnresolvedHostError(f"host {host!r} does not resolve: {error}") from error
    # Drop an IPv6 scope id (fe80::1%eth0) before parsing.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


def check_url(url: str, allowed: Iterable[str] = ()) -> None:
    """Raise BlockedAddressError unless every address of ``url``'s host is public or allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedAddressError(f"{url!r}: only http and https URLs are fetched")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise BlockedAddressError(f"{url!r} has no host")
    hosts, networks = _parse_allowed(allowed)
    if host in hosts:
        return
    for address in resolve(host):
        if is_public(address) or any(address in network for network in networks):
            continue
        raise BlockedAddressError(
            f"{url!r} leads to {address}, a private, loopback or link-local address; add the "
            "host or a CIDR to tools.allowed_hosts to allow it"
        )


def request_hook(allowed: Iterable[str]) -> Callable[[Any], None]:
    """An httpx ``request`` event hook that checks each request it sends, redirects included."""
    allowed = list(allowed)

    def hook(request: Any) -> None:
        check_url(str(request.url), allowed)

    return hook


def async_request_hook(allowed: Iterable[str]) -> Callable[[Any], Awaitable[None]]:
    """``request_hook`` for an async client; name resolution runs off the event loop."""
    allowed = list(allowed)

    async def hook(request: Any) -> None:
        await asyncio.to_thread(check_url, str(request.url), allowed)

    return hook
