"""Wait on GET /training/status of a running app (e2e training and chaos tests)."""

from __future__ import annotations

import time

import httpx


def wait_for_status(client: httpx.Client, predicate, timeout_s: float = 300.0) -> dict:
    """The first training status ``predicate`` accepts, polled every 0.5 s until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    status: dict = {}
    while time.monotonic() < deadline:
        status = client.get("/training/status").json()
        if predicate(status):
            return status
        time.sleep(0.5)
    raise AssertionError(f"condition not reached in {timeout_s}s; last status {status}")
