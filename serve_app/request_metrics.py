"""Counts and times every HTTP request the ingress answers, by route template, method and status.

An ASGI middleware outside the Guard, so its refusals (401, 413, 429) count too. The route is the
template of the route that took the request (``/training/jobs/{job_id}``), never the raw path, so
a client cannot grow the label set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve_app import metrics

UNROUTED = "unrouted"
CLIENT_LEFT = 499  # nginx's status for a client that closed the connection before the answer


def route_template(routed: Scope, incoming: Scope, routes: Sequence[BaseRoute]) -> str:
    """The path template of the route that took the request. FastAPI leaves its API route in the
    ``routed`` scope; a plain route or mount of the app (/mcp, the console, the docs) is found by
    matching the ``incoming`` scope. ``unrouted``: an unknown path, or the Guard answered first."""
    route = routed.get("route") or next(
        (
            route
            for route in routes
            if isinstance(route, Route | Mount) and route.matches(incoming)[0] is not Match.NONE
        ),
        None,
    )
    return getattr(route, "path", None) or UNROUTED


class RequestMetrics:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope)  # routing rewrites the scope (a mount's root_path)
        started = time.perf_counter()
        status: int | None = None

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except asyncio.CancelledError:
            status = status or CLIENT_LEFT
            raise
        finally:
            # No answer started and no cancellation: the app raised, and the client gets a 500.
            route = route_template(scope, incoming, self.routes)
            elapsed = time.perf_counter() - started
            metrics.record_request(route, scope["method"], status or 500, elapsed)
