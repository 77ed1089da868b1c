"""One place that maps exceptions to HTTP answers.

The REST API answers ``{"detail": ...}``; the OpenAI-compatible ``/v1`` routes answer OpenAI's
``{"error": {"message", "type", "param", "code"}}`` so that OpenAI clients raise the right errors.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from ray.exceptions import RayActorError
from starlette.exceptions import HTTPException as StarletteHTTPException

from configs.path_roots import PathNotAllowedError
from configs.store import ConfigError
from llm.errors import ModelLoadError, ModelPathNotFoundError
from llm.generation import GenerationTimeoutError, PromptRenderError, PromptTooLongError
from llm.tool_grammar import ToolGrammarError
from serve_app.backends import OverloadedError
from serve_app.model_server import NoModelLoadedError
from serve_app.openai_compat import OpenAIError
from serve_app.request_limits import LimitError
from serve_app.schemas import ErrorResponse, OpenAIErrorResponse, UnprocessableResponse
from serve_app.tool_policy import ToolNotAllowedError
from serve_app.training_manager import JobNotFoundError, TrainingConflictError
from train_app.dataset_validation import DatasetError
from train_app.job_runner import TrainingSetupError

# Most specific first: a subclass must map before its base.
STATUS_BY_EXCEPTION: list[tuple[type[Exception], int]] = [
    (PathNotAllowedError, 403),
    (NoModelLoadedError, 404),
    (ModelPathNotFoundError, 404),
    (ModelLoadError, 400),
    (PromptTooLongError, 400),
    (PromptRenderError, 400),
    (ToolGrammarError, 400),
    (GenerationTimeoutError, 504),
    (ConfigError, 400),
    (ToolNotAllowedError, 400),
    (DatasetError, 400),
    (TrainingSetupError, 400),
    (TrainingConflictError, 409),
    (JobNotFoundError, 404),
    # A replica died under the request; Serve starts another (check_health, ray.kill).
    (RayActorError, 503),
]

# ToolOutcome.error_kind → status of POST /tools/execute.
STATUS_BY_TOOL_ERROR = {
    "unknown_tool": 404,
    "held_back": 403,
    "invalid_arguments": 400,
    "tool_error": 400,
    "unavailable": 503,
    "timeout": 504,
}

# Declared in /openapi.json for every route of a router (schemathesis checks the app keeps to it).
_ERROR_STATUSES = {
    400: "Invalid input; the detail names the field",
    401: "No API key, or a wrong one (when keys are configured)",
    403: "A path outside the allowed folders, or an MCP tool held back until approved",
    404: "Not there: no model loaded, unknown tool, job or upload",
    409: "Conflict: a training job is already running",
    413: "Request body over security.max_body_bytes",
    429: "Rate limit exceeded; Retry-After says when to come back",
    503: "Overloaded, or a service the request needs is unavailable",
    504: "A tool or generation did not finish within its timeout",
}
_UNPROCESSABLE = "A body that fails validation, or a tool_choice the model could not satisfy"
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in _ERROR_STATUSES.items()
} | {422: {"model": UnprocessableResponse, "description": _UNPROCESSABLE}}
OPENAI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorResponse, "description": text}
    for status, text in _ERROR_STATUSES.items()
} | {422: {"model": OpenAIErrorResponse, "description": _UNPROCESSABLE}}

OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "server_overloaded",
    504: "timeout",
}


def status_of(error: Exception) -> int:
    """The HTTP status the handlers below answer an exception with; 500 for one none maps."""
    if isinstance(error, OpenAIError):
        return error.status
    if isinstance(error, OverloadedError):
        return 503
    if isinstance(error, LimitError):
        return 400
    return next((status for kind, status in STATUS_BY_EXCEPTION if isinstance(error, kind)), 500)


def error_content(
    path: str, status: int, message: str, param: str | None = None, code: str | None = None
) -> dict:
    """The error body for ``path``: OpenAI's shape under /v1, ``{"detail": ...}`` elsewhere."""
    if path.startswith("/v1/"):
        error = {
            "message": message,
            "type": OPENAI_ERROR_TYPES.get(status, "api_error"),
            "param": param,
            "code": code,
        }
        return {"error": error}
    return {"detail": message}


def error_response(
    request: Request,
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    content = error_content(request.url.path, status, message, param, code)
    return JSONResponse(status_code=status, content=content, headers=headers)


async def _openai_error(request: Request, error: OpenAIError) -> JSONResponse:
    return error_response(request, error.status, str(error), error.param, error.code)


async def _limit_error(request: Request, error: LimitError) -> JSONResponse:
    return error_response(request, 400, str(error), error.param)


async def _overloaded(request: Request, error: OverloadedError) -> JSONResponse:
    """A deployment's queue (max_queued_requests) is full: ask the client to come back."""
    retry_after = error.retry_after_s
    if retry_after is None:
        retry_after = request.app.state.backends.config.get().security.retry_after_s
    seconds = max(1, math.ceil(retry_after))
    return error_response(
        request,
        503,
        f"the service is at capacity ({error}); retry after {seconds} s",
        code="overloaded",
        headers={"Retry-After": str(seconds)},
    )


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    if not request.url.path.startswith("/v1/"):
        return await request_validation_exception_handler(request, error)
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"] if part != "body")
    return error_response(request, 400, f"{field}: {first['msg']}", field or None)


async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
    """FastAPI's own HTTP errors (a body that is not JSON, an unknown route) in each API's shape."""
    if not request.url.path.startswith("/v1/"):
        return await http_exception_handler(request, error)
    response = error_response(request, error.status_code, str(error.detail))
    response.headers.update(error.headers or {})
    return response


def add_error_handlers(app: FastAPI) -> None:
    for exception_type, status in STATUS_BY_EXCEPTION:

        async def handler(request: Request, error: Exception, status: int = status) -> JSONResponse:
            return error_response(request, status, str(error))

        app.add_exception_handler(exception_type, handler)
    app.add_exception_handler(OpenAIError, _openai_error)
    app.add_exception_handler(LimitError, _limit_error)
    app.add_exception_handler(OverloadedError, _overloaded)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
