"""What the ingress talks to: the model and tool deployments' handles and the config store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from ray.actor import ActorHandle
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from configs.path_roots import model_roots
from configs.store import ConfigStore
from llm.generation import GenerationRequest, GenerationResult
from serve_app.upload_tasks import hub_uploads_actor


class OverloadedError(RuntimeError):
    """A deployment's queue (max_queued_requests) is full; the client should retry later.

    Serve answers its own BackPressureError in plain text (it replaces the app's handler for it),
    so the ingress raises this instead and maps it to a JSON 503 with Retry-After.
    """

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _original(error: Exception) -> Exception:
    """Ray wraps a deployment's exception; the route wants the one the deployment raised."""
    if isinstance(error, BackPressureError):
        return OverloadedError(error.message, error.retry_after_s)
    if isinstance(error, RayTaskError) and isinstance(error.cause, Exception):
        return error.cause
    return error


@dataclass
class Backends:
    model: DeploymentHandle
    tools: DeploymentHandle
    training: DeploymentHandle
    config: ConfigStore
    uploads: ActorHandle | None = None
    # Whether the model server last said a model is loaded: /health's answer while it is full.
    model_seen_loaded: bool = False

    async def _call(self, handle: DeploymentHandle | ActorHandle, method: str, *args: Any) -> Any:
        try:
            return await getattr(handle, method).remote(*args)
        except Exception as error:
            raise _original(error) from None

    def _model_for(self, request: GenerationRequest) -> DeploymentHandle:
        """A request with an adapter goes to a replica that has it loaded, if one has."""
        if request.adapter is None:
            return self.model
        return self.model.options(multiplexed_model_id=request.adapter.model_id)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        return await self._call(self._model_for(request), "generate", request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Text pieces of one reply from the model replica, as they are decoded."""
        handle = self._model_for(request).options(stream=True)
        pieces = handle.generate_stream.remote(request)
        ended = False
        try:
            async for piece in pieces:
                yield piece
            ended = True
        except Exception as error:
            ended = True
            raise _original(error) from None
        finally:
            # Ray cancels the call only when this request is cancelled; a stream left otherwise
            # (its HTTP response failed as Serve shut down) would decode on, unread, and hold
            # the model replica's shutdown for its whole grace period.
            if not ended:
                pieces.cancel()

    async def load_model(self, model_path: str, base_model_name: str | None) -> dict[str, Any]:
        """A client's load: only folders under the configured model roots."""
        roots = model_roots(self.config.get())
        return await self._call(self.model, "load", model_path, base_model_name, roots)

    async def model_info(self) -> dict[str, Any] | None:
        info = await self._call(self.model, "info")
        self.model_seen_loaded = info is not None
        return info

    async def model_load_error(self) -> str | None:
        return await self._call(self.model, "get_load_error")

    async def tool_specs(self) -> list[dict[str, Any]]:
        return await self._call(self.tools, "specs")

    async def chat_tools(self) -> list[dict[str, Any]]:
        return await self._call(self.tools, "chat_tools")

    async def execute_tool(self, name: str, arguments: Any) -> dict[str, Any]:
        return await self._call(self.tools, "execute", name, arguments)

    async def execute_tools(self, calls: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        return await self._call(self.tools, "execute_many", calls)

    async def mcp_status(self) -> list[dict[str, Any]]:
        return await self._call(self.tools, "mcp_status")

    async def call_training(self, method: str, *args: Any) -> Any:
        return await self._call(self.training, method, *args)

    async def call_uploads(self, method: str, *args: Any) -> Any:
        """Call the app's hub upload actor (serve_app.upload_tasks), found or created on first
        use. The handle is kept: Ray ends an actor once no handle to it is left."""
        if self.uploads is None:
            self.uploads = hub_uploads_actor(self.config.get())
        try:
            return await self._call(self.uploads, method, *args)
        except RayActorError:  # the replica that owned it is gone; a new actor takes over
            self.uploads = hub_uploads_actor(self.config.get())
            return await self._call(self.uploads, method, *args)

    async def is_training(self) -> bool:
        record = await self.call_training("status")
        return bool(record and record["progress"]["is_training"])


def get_backends(request: Request) -> Backends:
    """FastAPI dependency: the Backends the ingress replica put on its app."""
    return request.app.state.backends


BackendsDep = Annotated[Backends, Depends(get_backends)]
