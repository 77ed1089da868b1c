"""GET JSON from an outside service; every way it can fail becomes ToolUnavailableError, except
a refused address (BlockedAddressError)."""

from __future__ import annotations

from typing import Any

import httpx

from tools.errors import ToolUnavailableError
from tools.net_guard import request_hook


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
    except httpx.HTTPError as error:
        detail = str(error) or "no answer"
        raise ToolUnavailableError(
            f"{service} unreachable: {type(error).__name__}: {detail}"
        ) from error
    if not response.is_success:
        raise ToolUnavailableError(
            f"{service} unreachable: HTTP {response.status_code} from {response.url.host}"
        )
    try:
        return response.json()
    except ValueError as error:
        raise ToolUnavailableError(f"{service} answered with something other than JSON") from error
