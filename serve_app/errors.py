"""One place that maps core exceptions to HTTP status codes with ``{"detail": ...}`` bodies."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from configs.store import ConfigError
from serve_app.generation import PromptTooLongError
from serve_app.model_loading import ModelLoadError, ModelPathNotFoundError
from serve_app.model_server import NoModelLoadedError
from serve_app.training_manager import JobNotFoundError, TrainingConflictError
from train_app.dataset_validation import DatasetError
from train_app.job_runner import TrainingSetupError

# Most specific first: a subclass must map before its base.
STATUS_BY_EXCEPTION: list[tuple[type[Exception], int]] = [
    (NoModelLoadedError, 404),
    (ModelPathNotFoundError, 404),
    (ModelLoadError, 400),
    (PromptTooLongError, 400),
    (ConfigError, 400),
    (DatasetError, 400),
    (TrainingSetupError, 400),
    (TrainingConflictError, 409),
    (JobNotFoundError, 404),
]

# ToolOutcome.error_kind → status of POST /tools/execute.
STATUS_BY_TOOL_ERROR = {
    "unknown_tool": 404,
    "invalid_arguments": 400,
    "tool_error": 400,
    "unavailable": 503,
    "timeout": 504,
}


def add_error_handlers(app: FastAPI) -> None:
    for exception_type, status in STATUS_BY_EXCEPTION:

        async def handler(_: Request, error: Exception, status: int = status) -> JSONResponse:
            return JSONResponse(status_code=status, content={"detail": str(error)})

        app.add_exception_handler(exception_type, handler)
