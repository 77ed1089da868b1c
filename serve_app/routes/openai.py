"""OpenAI-compatible API: GET /v1/models and POST /v1/chat/completions (plain and SSE streaming)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from serve_app.backends import Backends, BackendsDep
from serve_app.generation import GenerationRequest, GenerationResult
from serve_app.openai_compat import (
    MAX_CHOICE_TRIES,
    ChatCompletionRequest,
    OpenAIError,
    call_problems,
    completion_body,
    completion_id,
    forced_prefix,
    openai_tool_calls,
    to_chat_messages,
    tool_functions,
)
from serve_app.request_limits import check_max_new_tokens, check_messages
from tools.tool_calls import parse_tool_calls

router = APIRouter(prefix="/v1", tags=["openai"])


def model_id(info: dict[str, Any]) -> str:
    return Path(info["model_path"]).name


async def served_model(backends: Backends, requested: str | None = None) -> dict[str, Any]:
    info = await backends.model_info()
    if info is None:
        raise OpenAIError(
            404, "no model is loaded: POST /model/load first", "model", "model_not_found"
        )
    if requested is not None and requested not in (model_id(info), info["model_path"]):
        raise OpenAIError(
            404,
            f"model {requested!r} is not served; GET /v1/models lists it",
            "model",
            "model_not_found",
        )
    return info


@router.get("/models")
async def list_models(backends: BackendsDep) -> dict[str, Any]:
    info = await backends.model_info()
    models = []
    if info is not None:
        models.append(
            {
                "id": model_id(info),
                "object": "model",
                "created": int(time.time()),
                "owned_by": "mcp-tune",
                "root": info["base_model_name"] or info["model_path"],
                "parent": info["base_model_name"],
            }
        )
    return {"object": "list", "data": models}


def generation_request(body: ChatCompletionRequest, backends: Backends) -> GenerationRequest:
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
        stop=tuple(stops),
        seed=body.seed,
        prefill=forced_prefix(body, functions),
        deadline=time.time() + config.security.generation_timeout_s,
    )


async def generate_valid(
    body: ChatCompletionRequest, request: GenerationRequest, backends: Backends
) -> GenerationResult:
    """Generate; when the reply calls tools badly (or tool_choice demands a call), retry sampled."""
    functions = tool_functions(body)
    forced = bool(request.prefill)
    for attempt in range(MAX_CHOICE_TRIES):
        if attempt:
            request.temperature, request.seed = 0.7, (body.seed or 0) + attempt
        result = await backends.generate(request)
        attempted = forced or result.tool_calls or result.tool_call_errors
        problems = call_problems(result, functions, body) if attempted else []
        if not problems:
            return result
    if forced:
        raise OpenAIError(
            422,
            f"the model gave no valid call for tool_choice after {MAX_CHOICE_TRIES} tries: "
            f"{'; '.join(problems)}",
            "tool_choice",
        )
    return result


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
    text, sent = "", 0
    async for piece in backends.stream(request):
        text += piece
        visible = text.split("<tool_call>", 1)[0]
        # Hold back a tail that might be the start of "<tool_call>".
        safe = (
            len(visible) if "<tool_call>" in text else max(sent, len(visible) - len("<tool_call>"))
        )
        if safe > sent:
            yield chunk({"content": visible[sent:safe]})
            sent = safe
    visible = text.split("<tool_call>", 1)[0]
    if "<tool_call>" not in text and len(visible) > sent:
        yield chunk({"content": visible[sent:]})
    parsed = parse_tool_calls(text)
    result = GenerationResult(
        text=text,
        content=parsed.content,
        tool_calls=[c.to_dict() for c in parsed.tool_calls],
        tool_call_errors=parsed.errors,
    )
    calls = openai_tool_calls(result, body.parallel_tool_calls)
    for index, call in enumerate(calls):
        yield chunk({"tool_calls": [{"index": index, **call}]})
    yield chunk({}, "tool_calls" if calls else "stop")
    yield sse("[DONE]")


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, backends: BackendsDep
) -> dict[str, Any] | StreamingResponse:
    info = await served_model(backends, body.model)
    request = generation_request(body, backends)
    if body.stream:
        return StreamingResponse(
            stream_chunks(body, request, backends, model_id(info)), media_type="text/event-stream"
        )
    result = await generate_valid(body, request, backends)
    return completion_body(body, model_id(info), result)
