"""The HTTP ingress: validates, routes and shapes; holds no model and no tool code."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from configs.store import ConfigStore
from serve_app.api_keys import KeyRing, exposure_message
from serve_app.backends import Backends
from serve_app.console import mount_console
from serve_app.errors import ERROR_RESPONSES, OPENAI_ERROR_RESPONSES, add_error_handlers
from serve_app.guard import Guard
from serve_app.mcp_server import mount_mcp
from serve_app.rate_limit import RateLimiter
from serve_app.request_metrics import RequestMetrics
from serve_app.routes import chat, config, huggingface, model, openai, system, tools, training

logger = logging.getLogger("ray.serve")


def http_host() -> str | None:
    """The host Serve's HTTP proxies bind (serve_config.yaml http_options.host); None if unknown.

    Serve has no public getter for it; the controller client holds the proxies' config.
    """
    try:
        return serve.context._get_global_client().http_config.host
    except Exception as error:
        logger.warning("cannot read Serve's http_options.host: %s", error)
        return None


def create_api(backends: Backends, keyring: KeyRing | None = None) -> FastAPI:
    api = FastAPI(
        title="mcp-tune",
        description="Tool-calling LLM served on Ray Serve, with its tools and LoRA training.",
        version="0.1.0",
    )
    api.state.backends = backends
    for module in (system, model, chat, tools, training, config, huggingface):
        api.include_router(module.router, responses=ERROR_RESPONSES)
    api.include_router(openai.router, responses=OPENAI_ERROR_RESPONSES)
    mount_mcp(api, backends)
    mount_console(api)
    add_error_handlers(api)
    api.add_middleware(
        Guard, config=backends.config, keyring=keyring or KeyRing(), limiter=RateLimiter()
    )
    api.add_middleware(RequestMetrics, routes=api.routes)  # added last: outside the Guard
    return api


@serve.deployment
@serve.ingress()
class Ingress:
    def __init__(
        self,
        model_server: DeploymentHandle,
        tool_executor: DeploymentHandle,
        training_manager: DeploymentHandle,
        config_file: str,
        overrides_file: str,
    ) -> None:
        self._backends = Backends(
            model=model_server,
            tools=tool_executor,
            training=training_manager,
            config=ConfigStore(config_file, overrides_file),
        )
        # Refuse to start exposed without keys (ExposedWithoutKeysError), else say who may call.
        self._keyring = KeyRing()
        security = self._backends.config.get().security
        warning, message = exposure_message(http_host(), self._keyring.keys(security), security)
        logger.log(logging.WARNING if warning else logging.INFO, message)

    def __serve_build_asgi_app__(self) -> FastAPI:
        """Serve builds the FastAPI app in the replica, after __init__ has the handles."""
        return create_api(self._backends, self._keyring)
