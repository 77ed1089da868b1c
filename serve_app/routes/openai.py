"""OpenAI-compatible API: GET /v1/models, POST /v1/chat/completions (plain and SSE streaming),
and vLLM-style runtime LoRA adapters (POST /v1/load_lora_adapter, /v1/unload_lora_adapter)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from llm.generation import AdapterRef, GenerationRequest, GenerationResult, reply_parts
from serve_app.adapters import (
    AdapterEntry,
    AdapterRegistry,
    check_adapter_folder,
    check_adapter_name,
    same_model,
    split_model_name,
)
from serve_app.backends import Backends, BackendsDep
from serve_app.errors import error_content, status_of
from serve_app.openai_compat import (
    ChatCompletionRequest,
    OpenAIError,
    checked_reply,
    completion_body,
    completion_id,
    openai_tool_calls,
    to_chat_messages,
    tool_functions,
    tool_grammar,
)
from serve_app.request_limits import check_max_new_tokens, check_messages
from serve_app.schemas import LoraAdapterLoadRequest, LoraAdapterUnloadRequest

router = APIRouter(prefix="/v1", tags=["openai"])
logger = logging.getLogger("ray.serve")


def model_id(info: dict[str, Any]) -> str:
    return Path(info["model_path"]).name


async def served_model(backends: Backends) -> dict[str, Any]:
    info = await backends.model_info()
    if info is None:
        raise OpenAIError(
            404, "no model is loaded: POST /model/load first", "model", "model_not_found"
        )
    return info


def adapter_registry(backends: Backends) -> AdapterRegistry:
    return AdapterRegistry(backends.config.get().output.dir)


def base_root(info: dict[str, Any]) -> str:
    return info["base_model_name"] or info["model_path"]


def serves_adapter(info: dict[str, Any], entry: AdapterEntry, cache_dir: str) -> bool:
    """Adapters registered over another base (before a /model/load) are not served now."""
    return same_model(entry.base_model, info["model_folder"], cache_dir)


async def resolve_model(
    backends: Backends, requested: str
) -> tuple[dict[str, Any], AdapterRef | None]:
    """The served model's info and the adapter ``model`` picks: none for the base id,
    ``<base>:<adapter>`` or an adapter's own name for a registered adapter."""
    info = await served_model(backends)
    _, adapter = split_model_name(requested, model_id(info), info["model_path"])
    if adapter is None:
        return info, None
    entry = adapter_registry(backends).entries().get(adapter)
    if entry is None or not serves_adapter(info, entry, backends.config.get().model.cache_dir):
        raise OpenAIError(
            404,
            f"model {requested!r} is not served; GET /v1/models lists it",
            "model",
            "model_not_found",
        )
    return info, AdapterRef(entry.model_id, entry.path)


def model_entry(info: dict[str, Any], adapter: AdapterEntry | None = None) -> dict[str, Any]:
    """One /v1/models entry: the base, or an adapter whose parent is the base."""
    base_id = model_id(info)
    return {
        "id": adapter.name if adapter else base_id,
        "object": "model",
        "created": adapter.created if adapter else int(time.time()),
        "owned_by": "mcp-tune",
        "root": base_root(info),
        "parent": base_id if adapter else info["base_model_name"],
    }


@router.get("/models")
async def list_models(backends: BackendsDep) -> dict[str, Any]:
    info = await backends.model_info()
    models = []
    if info is not None:
        models.append(model_entry(info))
        adapters = adapter_registry(backends).entries().values()
        cache_dir = backends.config.get().model.cache_dir
        models.extend(model_entry(info, a) for a in adapters if serves_adapter(info, a, cache_dir))
    return {"object": "list", "data": models}


@router.post("/load_lora_adapter")
async def load_lora_adapter(body: LoraAdapterLoadRequest, backends: BackendsDep) -> dict[str, Any]:
    """Register an adapter for per-request use; replicas load it when a request first names it."""
    info = await served_model(backends)
    check_adapter_name(body.lora_name, model_id(info))
    cache_dir = backends.config.get().model.cache_dir
    folder, base = check_adapter_folder(body.lora_path, info["model_folder"], cache_dir)
    entry = adapter_registry(backends).add(body.lora_name, folder, base)
    logger.info("LoRA adapter %s registered from %s", entry.name, entry.path)
    return model_entry(info, entry)


@router.post("/unload_lora_adapter")
async def unload_lora_adapter(
    body: LoraAdapterUnloadRequest, backends: BackendsDep
) -> dict[str, Any]:
    """Forget an adapter; replicas drop their copy as it ages out of their LRU."""
    entry = adapter_registry(backends).remove(body.lora_name)
    logger.info("LoRA adapter %s unregistered", entry.name)
    return {"id": entry.name, "object": "model", "deleted": True}


def generation_request(
    body: ChatCompletionRequest, backends: Backends, adapter: AdapterRef | None
) -> GenerationRequest:
    config = backends.config.get()
    functions = tool_functions(body)
    tools = (
        [{"type": "function", "function": f} for f in functions.values()]
        if functions and body.tool_choice != "none"
        else None
    )
    stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    messages = to_chat_messages(body.messages)
    check_messages(messages, config)
    check_max_new_tokens(body.max_tokens, config, "max_tokens")
    check_max_new_tokens(body.max_completion_tokens, config, "max_completion_tokens")
    return GenerationRequest(
        messages=messages,
        tools=tools,
        max_new_tokens=body.max_completion_tokens
        or body.max_tokens
        or config.generation.max_new_tokens,
        max_length=config.model.max_length,
        temperature=config.generation.temperature if body.temperature is None else body.temperature,
        top_p=body.top_p or config.generation.top_p,
        repetition_penalty=config.generation.repetition_penalty,
        stop=tuple(stops),
        seed=body.seed,
        tool_grammar=tool_grammar(
            body.tool_choice,
            functions,
            body.parallel_tool_calls,
            enabled=config.generation.tool_grammar and body.tool_grammar,
        ),
        tool_calls_allowed=tools is not None,  # tool_choice "none", or no tools offered
        adapter=adapter,
        deadline=time.time() + config.security.generation_timeout_s,
    )


def sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


async def stream_chunks(
    body: ChatCompletionRequest, request: GenerationRequest, backends: Backends, model: str
) -> AsyncIterator[str]:
    """Text deltas as they are decoded; once a <tool_call> starts, the rest is parsed at the end
    and sent as tool-call deltas, as OpenAI streams do."""
    chunk_id, created = completion_id(), int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        return sse(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    # The text before a <tool_call> streams; the calls are parsed and checked at the end. Where
    # calls are not allowed, all of the reply is text (reply_parts).
    tag = "<tool_call>" if request.tool_calls_allowed else None
    text, sent = "", 0
    try:
        async for piece in backends.stream(request):
            text += piece
            visible = text.split(tag, 1)[0] if tag else text
            # Hold back a tail that might be the start of the tag.
            held = len(tag) if tag and len(visible) == len(text) else 0
            safe = max(sent, len(visible) - held)
            if safe > sent:
                yield chunk({"content": visible[sent:safe]})
                sent = safe
        formats = backends.config.get().model.tool_call_formats
        result = GenerationResult(text=text, **reply_parts(text, request, formats))
        result = checked_reply(result, request, tool_functions(body), body.tool_choice)
    except Exception as error:  # 200 is already sent: the error goes in the stream, as OpenAI's
        status = status_of(error)
        if status >= 500 and status not in (503, 504):
            logger.exception("stream of %s failed", chunk_id)
        yield sse(error_content("/v1/chat/completions", status, str(error)))
        yield sse("[DONE]")
        return
    visible = text.split(tag, 1)[0] if tag else text
    if len(visible) == len(text) and len(visible) > sent:
        yield chunk({"content": visible[sent:]})
    calls = openai_tool_calls(result, body)
    for index, call in enumerate(calls):
        yield chunk({"tool_calls": [{"index": index, **call}]})
    yield chunk({}, "tool_calls" if calls else "stop")
    yield sse("[DONE]")


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, backends: BackendsDep
) -> dict[str, Any] | StreamingResponse:
    info, adapter = await resolve_model(backends, body.model)
    request = generation_request(body, backends, adapter)
    # Answers name what was asked for: the adapter, or the base model's id.
    name = body.model if adapter else model_id(info)
    if body.stream:
        return StreamingResponse(
            stream_chunks(body, request, backends, name), media_type="text/event-stream"
        )
    result = await backends.generate(request)
    result = checked_reply(result, request, tool_functions(body), body.tool_choice)
    return completion_body(body, name, result)
