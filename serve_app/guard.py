"""The ingress's door: API key, rate limit and body size, checked before any route parses a byte.

An ASGI middleware around the whole FastAPI app (routes, /mcp, /docs, /openapi.json); only
``/health`` and the console's static files (``/ui``, see serve_app.console) are open. Its answers
use the app's error shapes (OpenAI's under /v1).
"""

from __future__ import annotations

import logging

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from configs.store import ConfigStore
from serve_app.api_keys import KeyRing, bearer_token, key_id, matching_key
from serve_app.console import is_console_path
from serve_app.errors import error_content
from serve_app.rate_limit import RateLimiter

logger = logging.getLogger("ray.serve")

OPEN_PATHS = frozenset({"/health"})


def is_open(path: str) -> bool:
    """/health, and the console's files: a browser opening a page sends no Authorization."""
    return path in OPEN_PATHS or is_console_path(path)


class Guard:
    def __init__(
        self, app: ASGIApp, config: ConfigStore, keyring: KeyRing, limiter: RateLimiter
    ) -> None:
        self.app = app
        self.config = config
        self.keyring = keyring
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        security = self.config.get().security
        headers = Headers(scope=scope)
        address = scope["client"][0] if scope.get("client") else "unknown"
        try:
            keys = self.keyring.keys(security)
        except OSError as error:  # a key file gone at run time: fail closed
            logger.error("API keys unreadable: %s", error)
            await self._reject(scope, receive, send, 503, f"API keys unreadable: {error}", {})
            return
        if keys:
            token = bearer_token(headers.get("authorization"))
            key = matching_key(token, keys)
            if key is None:
                reason = "missing" if token is None else "invalid"
                logger.info(
                    "401 %s %s from %s: %s API key", scope["method"], scope["path"], address, reason
                )
                message = (
                    "missing API key: send 'Authorization: Bearer <key>'"
                    if token is None
                    else "invalid API key"
                )
                challenge = 'Bearer realm="mcp-tune"' + (
                    "" if token is None else ', error="invalid_token"'
                )
                headers = {"WWW-Authenticate": challenge}
                await self._reject(scope, receive, send, 401, message, headers)
                return
            client = key_id(key)
        else:
            client = address
        retry_after = self.limiter.check(
            client, security.rate_limit_per_s, security.rate_limit_burst
        )
        if retry_after:
            await self._reject(
                scope,
                receive,
                send,
                429,
                f"rate limit of {security.rate_limit_per_s:g} requests/s "
                f"(burst {security.rate_limit_burst}) exceeded; retry after {retry_after} s",
                {"Retry-After": str(retry_after)},
            )
            return
        limit = security.max_body_bytes
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._too_large(scope, receive, send, limit)
            return
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app, counting body bytes as they arrive (chunked bodies name no length)."""
        received = 0
        started = rejected = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:  # we answered 413; what the app says after that goes nowhere
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request" and not rejected:
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        await self._too_large(scope, receive, send, limit)
                    rejected = True
                    return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not rejected:  # the app's complaint about the cut body is no news
                raise

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        message = f"request body larger than {limit} bytes (security.max_body_bytes)"
        await self._reject(scope, receive, send, 413, message, {})

    @staticmethod
    async def _reject(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        message: str,
        headers: dict[str, str],
    ) -> None:
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
        response = JSONResponse(
            error_content(scope["path"], status, message, code=code),
            status_code=status,
            headers=headers,
        )
        await response(scope, receive, send)
