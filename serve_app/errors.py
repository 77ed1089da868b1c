"""One place that maps exceptions to HTTP answers.

The REST API answers ``{"detail": ...}``; the OpenAI-compatible ``/v1`` routes answer OpenAI's
``{"error": {"message", "type", "param", "code"}}`` so that OpenAI clients raise the right errors.
"""

from __future__ import annotations

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
from serve_app.generation import PromptRenderError, PromptTooLongError
from serve_app.model_loading import ModelLoadError, ModelPathNotFoundError
from serve_app.model_server import NoModelLoadedError
from serve_app.openai_compat import OpenAIError
from serve_app.schemas import ErrorResponse, OpenAIErrorResponse
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
    (ConfigError, 400),
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
    "invalid_arguments": 400,
    "tool_error": 400,
    "unavailable": 503,
    "timeout": 504,
}

# Declared in /openapi.json for every route of a router (schemathesis checks the app keeps to it).
_ERROR_STATUSES = {
    400: "Invalid input; the detail names the field",
    403: "A path outside the allowed folders",
    404: "Not there: no model loaded, unknown tool, job or upload",
    409: "Conflict: a training job is already running",
    503: "Overloaded, or a service the request needs is unavailable",
    504: "A tool did not finish within its timeout",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in _ERROR_STATUSES.items()
}
OPENAI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorResponse, "description": text}
    for status, text in _ERROR_STATUSES.items()
}

OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
}


def error_response(
    request: Request, status: int, message: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    if request.url.path.startswith("/v1/"):
        error = {
            "message": message,
            "type": OPENAI_ERROR_TYPES.get(status, "api_error"),
            "param": param,
            "code": code,
        }
        return JSONResponse(status_code=status, content={"error": error})
    return JSONResponse(status_code=status, content={"detail": message})


async def _openai_error(request: Request, error: OpenAIError) -> JSONResponse:
    return error_response(request, error.status, str(error), error.param, error.code)


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
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
