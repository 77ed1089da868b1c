"""GET JSON from an outside service; every way it can fail becomes ToolUnavailableError, except
a refused address (BlockedAddressError).

An unreachable service (offline, no DNS, refused, timed out, an HTTP error) is said in words a
model can pass on: the service could not be reached, so the answer has no live data from it.
"""

from __future__ import annotations

from typing import Any

import httpx

from tools.errors import ToolUnavailableError
from tools.net_guard import UnresolvedHostError, request_hook


def unreachable(service: str, reason: str) -> ToolUnavailableError:
    """The error of a service that did not answer; ``reason`` is the technical detail."""
    return ToolUnavailableError(
        f"The {service} could not be reached, so the answer cannot include live data from it "
        f"({reason})."
    )


def get_json(
    url: str,
    params: dict[str, Any],
    *,
    timeout_s: float,
    service: str,
    allowed_hosts: list[str],
) -> Any:
    """The decoded JSON body of ``GET url?params``; ``service`` names it in error messages.

    Every hop (redirects too) must lead to a public address or one in ``allowed_hosts``.
    """
    try:
        with httpx.Client(
            timeout=timeout_s,
            follow_redirects=True,
            event_hooks={"request": [request_hook(allowed_hosts)]},
        ) as client:
            response = client.get(url, params=params)
    except httpx.InvalidURL as error:
        raise ToolUnavailableError(f"{service} URL {url!r} is not valid: {error}") from error
    except UnresolvedHostError as error:
        raise unreachable(service, str(error)) from error
    except httpx.HTTPError as error:
        detail = str(error) or "no answer"
        raise unreachable(service, f"{type(error).__name__}: {detail}") from error
    if not response.is_success:
        raise unreachable(service, f"HTTP {response.status_code} from {response.url.host}")
    try:
        return response.json()
    except ValueError as error:
        raise ToolUnavailableError(f"{service} answered with something other than JSON") from error
